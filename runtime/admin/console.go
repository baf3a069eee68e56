package admin

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed console
var consoleFiles embed.FS

// consoleCSP allows nothing from elsewhere: the console makes no external request.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func consoleHandler() http.Handler {
	sub, err := fs.Sub(consoleFiles, "console")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return http.FileServerFS(sub)
}

// serveConsole serves the web console: "/" is index.html, "/console/x" is x.
func (h *Handler) serveConsole(c *call) {
	r := c.r
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.w.Header().Set("Allow", "GET, HEAD")
		c.refuse(http.StatusMethodNotAllowed, GateMethod, "the console is read-only", "use GET")
		return
	}
	if !c.passOrigin() {
		return
	}
	c.w.Header().Set("Content-Security-Policy", consoleCSP)
	path := r.URL.Path
	switch {
	case path == "/" || path == "/index.html":
		c.w.Header().Set("Cache-Control", "no-store")
		http.ServeFileFS(c.w, r, consoleFiles, "console/index.html")
	case strings.HasPrefix(path, "/console/") && !strings.HasSuffix(path, "/"):
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.TrimPrefix(path, "/console")
		h.console.ServeHTTP(c.w, r2)
	default:
		c.refuse(http.StatusNotFound, GateRoute, "no page "+path, "the console is at /, the API under "+Prefix)
	}
}
