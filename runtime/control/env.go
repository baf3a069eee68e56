package control

import (
	"fmt"
	"os"
	"strings"
)

// BackendFromEnv picks the backend the environment asks for:
//
//	BALDUR_CONTROL_BACKEND    file | redis | memory   (redis when a Redis URL is set, else file)
//	BALDUR_CONTROL_REDIS_URL  the Redis for the switches; else BALDUR_REDIS_URL; else REDIS_URL
//	BALDUR_STATE_DIR          where the file backend keeps control.json (stateDir wins when not empty)
//
// A bad value is an error naming the variable and the value.
func BackendFromEnv(stateDir string) (Backend, error) {
	return backendFromLookup(stateDir, os.LookupEnv)
}

func backendFromLookup(stateDir string, lookup func(string) (string, bool)) (Backend, error) {
	url, urlVar := "", ""
	for _, name := range []string{"BALDUR_CONTROL_REDIS_URL", "BALDUR_REDIS_URL", "REDIS_URL"} {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			url, urlVar = strings.TrimSpace(v), name
			break
		}
	}
	kind := "file"
	if url != "" {
		kind = "redis"
	}
	if v, ok := lookup("BALDUR_CONTROL_BACKEND"); ok {
		kind = strings.ToLower(strings.TrimSpace(v))
		if kind != "file" && kind != "redis" && kind != "memory" {
			return nil, fmt.Errorf("BALDUR_CONTROL_BACKEND=%q: want file, redis or memory", v)
		}
	}
	switch kind {
	case "memory":
		return NewMemory(), nil
	case "redis":
		if url == "" {
			return nil, fmt.Errorf("BALDUR_CONTROL_BACKEND=redis: set BALDUR_CONTROL_REDIS_URL or BALDUR_REDIS_URL")
		}
		r, err := OpenRedis(url, "")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", urlVar, err)
		}
		return r, nil
	}
	if stateDir == "" {
		if v, ok := lookup("BALDUR_STATE_DIR"); ok {
			if strings.TrimSpace(v) == "" {
				return nil, fmt.Errorf("BALDUR_STATE_DIR=%q: want a directory path", v)
			}
			stateDir = v
		} else {
			stateDir = ".baldur"
		}
	}
	return NewFileInDir(stateDir), nil
}
