package generator

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "re-record testdata/golden/*/ (the *_baldur.go files and errors.txt)")

// goldenCases lists every folder of testdata/golden with the reason it
// exists; TestGolden fails when a folder and this table disagree.
var goldenCases = map[string]string{
	"payments":                 "the README's directive example: interface defaults, method overrides, skip, fallback, idempotency, dlq",
	"generics":                 "interfaces with type parameters (union constraints too), instantiated generic embeds (Store[User]), a generic fallback",
	"variadic":                 "...T is forwarded with ... and reaches the fallback as []T (the README's rules at the edges)",
	"unnamed_blank":            "unnamed and blank parameters must be named to be forwarded, without clashing with a0-like names",
	"named_results":            "named results (n, err) must not clash with the wrapper's own locals",
	"embed_io":                 "io.ReadWriteCloser embedded from the standard library, methods without a context",
	"embed_driver":             "database/sql/driver.Conn embedded, other-package result types, //baldur:skip Name on the interface",
	"grpc_client":              "a gRPC client interface from another module: variadic grpc.CallOption, a generic stream result",
	"sealed":                   "unexported methods of a sealed interface are wrapped in the same package",
	"no_error_result":          "the implicit breaker reaches only methods whose last result is error; the rest is delegated",
	"no_ctx":                   "methods without a leading context run under context.Background(); backoff=const",
	"bulkhead":                 "interface-level bulkhead shares the service compartment, method-level gets service.Method",
	"idempotency_paths":        "idempotency paths through fields, promoted and embedded-pointer fields, pointers to pointers, to strings, integers and Stringers; every fingerprint kind",
	"idempotency_replay":       "idempotency_replay stores the results (generic ones too) and returns them to duplicates; a fallback's answer is not stored",
	"fail_open":                "idempotency_fail_open per method and per service (on the interface), idem_ttl in the ZoneSpec",
	"collisions_package":       "package-level names runtime, backoff, context, time, errors, ctx, inner, w, z, err and a dlq signature const's name force import aliases, renamed locals and a renamed const",
	"collisions_params":        "parameters named like locals and imports (moq-style renaming), a method named like the inner field",
	"lift":                     "explicit interface keys lifted with key=off, //baldur:skip, and //baldur:skip Name for embedded methods",
	"durations_backoff":        "durations in the largest exact unit, backoff kinds, breaker=off, all-off delegation",
	"err_no_error_result":      "explicit breaker/retry/idempotency/dlq/fallback/bulkhead/timeout on methods without an error result are errors, interface-level too, embedded too",
	"err_timeout":              "timeout needs a leading context.Context and is refused on channel and stream (Recv) results, gRPC streams included",
	"err_skip":                 "//baldur:skip Name on the interface must name methods; skipped and protected at once is a contradiction",
	"err_fallback":             "a missing fallback and each wrong signature, generic ones included, say what differs",
	"err_idempotency":          "idempotency paths that do not reach a string, integer or Stringer name the path and the type found",
	"err_dlq":                  "dlq refuses what JSON cannot carry back into the parameter (chan, func, interface, complex, unexported fields, bad map keys, one-way marshalers), naming the parameter and the field",
	"dlq":                      "the typed argument record and replayer: nested structs, slices, maps, times, pointers, variadic, no context, unnamed parameters, fallback, generics, names the locals must avoid",
	"err_embed_unexported":     "embedding another package's interface with unexported methods cannot be wrapped",
	"err_directives":           "misplaced directives, non-interface and constraint types, malformed keys, Check's combinations, taken names",
	"err_unwritable":           "a method mentioning another package's unexported type cannot be spelled in the wrapper",
	"unexported_iface":         "an unexported interface gets unexported wrapper names; snake_case of initialisms (HTTPClient → http_client); two interfaces in one file",
	"idempotency_fingerprint":  "README rules at the edges: funcs (S3-like ...func(*Options)), channels, readers and interfaces other than fmt.Stringer are left out of the fingerprint by name; readers in fields are read past; a Stringer is read by String",
	"err_timeout_watch":        "timeout is refused on a client-go-like Watch (a result whose method returns a channel, in a field too, a concrete type's pointer method), inherited from the interface and from an embedded interface; timeout=off and //baldur:skip Name lift it",
	"err_timeout_body":         "timeout is refused on an S3-like GetObject whose result holds Body io.ReadCloser (promoted fields too) and on a returned reader; data results and a *bytes.Buffer pass",
	"err_timeout_iter":         "timeout is refused on iter.Seq and iter.Seq2 results, an alias of one, and one held in a field",
	"err_timeout_func":         "timeout is refused on func results, named func types and a func held in a field; //baldur:skip delegates",
	"idempotency_degraded":     "idempotency_degraded=refuse on the interface with a method serving, and per method: IdemDegraded in the ZoneSpec",
	"shaping":                  "rate (the interface's bucket shared, a method's own fleet-wide bucket, rate_wait, rate=off), retry_budget inherited and lifted (retry_budget=off, retry=off), a fleet-wide retry budget, throttle and concurrency, load shaping alone without a breaker still wraps: the ZoneSpec fields and -explain's chain",
	"err_shaping":              "load-shaping misuse: each bad value (rate, burst, rate_wait, rate_scope, retry_budget, throttle, concurrency), tuning without rate or retry, concurrency with a bulkhead (method and interface), shaping on a method without an error result: positioned errors, nothing written",
	"err_idempotency_degraded": "idempotency_degraded misuse: a bad value, no idempotency, idempotency=off, refuse with fail-open (method and interface): positioned errors, nothing written",
	"compartment":              "compartment= shares the runtime's named compartments across interfaces (Compartment without Bulkhead); compartment=off lifts it for a bulkhead of the method's own",
	"fallback_on":              "fallback_on= lists the failures a fallback answers (FallbackOn in the ZoneSpec), with compartment= and timeout=",
	"deadline":                 "deadline= wraps the retry loop in WithDeadline/Deadlined; methods with a context and no timeout= of their own take the default timeout (DefaultTimeout), those without a context or with an outliving result do not",
	"err_compartment":          "compartment misuse: a bad name, a bare key, with bulkhead= (method and interface), with bulkhead_wait=, without an error result: positioned errors, nothing written",
	"err_fallback_on":          "fallback_on misuse: an unknown kind, an empty item, bulkhead without a bulkhead, open with breaker=off, without a fallback or with fallback=off: positioned errors, nothing written",
	"err_deadline":             "deadline misuse: no context, a channel result, not longer than timeout= (method and interface), 0s, over 24h, without an error result: positioned errors, nothing written",
	"cache":                    "cache= keyed by one parameter (no allocation on a hit), a struct of several, none, cache_key= paths through pointers to a string, an unsigned integer and a Stringer; with retry, timeout, deadline, stale_if_error and a fallback, no context, generics",
	"err_cache":                "cache misuse: no result beside error, channel/reader/func results, parameters that cannot form a key, a bad cache_key path, with dlq or idempotency, tuning without cache, bad durations, no error result: positioned errors, nothing written",
	"criticality":              "criticality=low on the interface, normal and high on methods, unset: Criticality in the ZoneSpec (what emergency mode sheds last)",
	"err_criticality":          "criticality misuse: a bad value, a bare key, upper case, off: positioned errors, nothing written",
	"hedge":                    "hedge= on methods declared safe to repeat (idempotent, idempotency=): no result, one, several (a struct), with retry and budget, timeout, deadline, fallback, hedge=off: runtime.HedgeFor and the ZoneSpec",
	"breaker_keys":             "breaker_threshold= and breaker_recovery= on the interface reach every method's ZoneSpec (BreakerThreshold, BreakerRecovery), breaker=off on a method, with bulkhead=",
	"err_hedge":                "hedge misuse: not declared safe, with dlq, no context (method and interface), channel and stream results, no error result, bad values, hedge_delay without hedge: positioned errors, nothing written",
}

// goldenDir is a module of its own (github.com/baldur-go/baldur/testdata/golden,
// the repository's root through a replace directive), so that the cases may
// import grpc without grpc entering the library module's requirements; its
// packages keep the import paths they had inside the root module.
const goldenDir = "../testdata/golden"

// generateGolden runs the generator once over every case: one packages.Load,
// as baldurgen ./... does.
func generateGolden(t *testing.T) (*Result, ErrorList) {
	t.Helper()
	res, err := Generate(Config{Dir: goldenDir, Patterns: []string{"./..."}})
	var list ErrorList
	if err != nil && !errors.As(err, &list) {
		t.Fatalf("generate: %v", err)
	}
	require.NotNil(t, res)
	return res, list
}

func TestGolden(t *testing.T) {
	abs, err := filepath.Abs(goldenDir)
	require.NoError(t, err)
	entries, err := os.ReadDir(abs)
	require.NoError(t, err)
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
			if _, ok := goldenCases[e.Name()]; !ok {
				t.Errorf("testdata/golden/%s has no entry in goldenCases saying why it exists", e.Name())
			}
		}
	}
	for name := range goldenCases {
		if _, err := os.Stat(filepath.Join(abs, name)); err != nil {
			t.Errorf("goldenCases lists %s, but testdata/golden/%s is missing", name, name)
		}
	}

	res, list := generateGolden(t)
	require.Empty(t, res.Stale, "no golden case should leave a stale generated file")
	for _, name := range dirs {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(abs, name)
			got := make(map[string][]byte)
			for _, f := range res.Files {
				if inDir(dir, f.Path) {
					rel, _ := filepath.Rel(dir, f.Path)
					got[rel] = f.Content
				}
			}
			var errLines []string
			for _, e := range list {
				if inDir(dir, e.Pos.Filename) {
					errLines = append(errLines, ErrorList{e}.Lines(dir)...)
				}
			}
			if len(errLines) > 0 {
				got = map[string][]byte{"errors.txt": []byte(strings.Join(errLines, "\n") + "\n")}
			}
			checkGolden(t, dir, got)
		})
	}
	// Every recorded wrapper must compile and pass go vet next to its input.
	t.Run("vet", func(t *testing.T) {
		cmd := exec.Command("go", "vet", "./...")
		cmd.Dir = goldenDir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go vet ./... in testdata/golden:\n%s", out)
	})
}

func inDir(dir, path string) bool {
	return strings.HasPrefix(path, dir+string(filepath.Separator))
}

// checkGolden compares the generated files (and errors.txt) of one case
// with those on disk, or re-records them with -update.
func checkGolden(t *testing.T, dir string, got map[string][]byte) {
	t.Helper()
	want := make(map[string][]byte)
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(path, "_baldur.go") || d.Name() == "errors.txt" {
			rel, _ := filepath.Rel(dir, path)
			b, err := os.ReadFile(path)
			want[rel] = b
			return err
		}
		return nil
	})
	require.NoError(t, err)
	if *update {
		for rel := range want {
			if _, ok := got[rel]; !ok {
				require.NoError(t, os.Remove(filepath.Join(dir, rel)))
			}
		}
		for rel, b := range got {
			require.NoError(t, os.WriteFile(filepath.Join(dir, rel), b, 0o644))
		}
		return
	}
	var names []string
	for rel := range want {
		names = append(names, rel)
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			names = append(names, rel)
		}
	}
	sort.Strings(names)
	for _, rel := range names {
		w, g := want[rel], got[rel]
		switch {
		case g == nil:
			t.Errorf("%s: recorded but no longer generated (re-record with go test ./generator -update)", rel)
		case w == nil:
			t.Errorf("%s: generated but not recorded (re-record with go test ./generator -update):\n%s", rel, g)
		case !bytes.Equal(w, g):
			t.Errorf("%s differs from the recording (re-record with go test ./generator -update):\n%s",
				rel, unifiedDiff("want/"+rel, "got/"+rel, string(w), string(g)))
		}
	}
}
