//go:build tools

package tools

import (
	_ "github.com/dave/jennifer/jen"
	_ "golang.org/x/tools/go/packages"
	_ "github.com/stretchr/testify/require"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "go.uber.org/goleak"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/sony/gobreaker/v2"
	_ "github.com/failsafe-go/failsafe-go"
)
