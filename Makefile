# baldur-go: every target works on a fresh machine with only Go installed
# (Redis and Chromium tests skip with a message when those are missing; CI installs them).
GO ?= go
# The race detector needs cgo and a C compiler; without one the tests still run, without -race.
RACE ?= $(shell command -v "$$($(GO) env CC)" >/dev/null 2>&1 && echo -race)
# Every module of the repository, found by its go.mod: the library (.), examples,
# bench, bench/peers, runtime/admin/browser, testdata/golden (README, Architecture).
MODULES := $(sort $(patsubst %/go.mod,%,$(shell find . -name go.mod -not -path "./.*")))
# The modules whose packages carry //go:generate baldurgen directives.
GEN_MODULES := . ./examples ./bench
# Each module is built on its own requirement list, as its users get it;
# go.work joins them for editors and ad-hoc commands only.
export GOWORK := off
FUZZTIME ?= 30s

.PHONY: help demo serve test test-short generate golden bench bench-idem bench-gen lint fuzz mutate

## demo: regenerate, build and run the scripted payments scenario (embedded store, no Redis needed)
demo: generate
	cd examples && $(GO) run ./payments

## serve: keep simulated traffic flowing and the admin console up on 127.0.0.1:9090 until interrupted
serve: generate
	cd examples && $(GO) run ./payments -serve

## help: list these targets
help:
	@sed -n 's/^## \([a-z-]*\): /\1\t/p' $(MAKEFILE_LIST) | awk -F'\t' '{ printf "  %-11s %s\n", $$1, $$2 }'

## test: in every module, go vet then every test with the race detector (when a C compiler is there for it); all modules run, then it fails if any failed
test:
	@[ -n "$(RACE)" ] || echo "note: no C compiler ($$($(GO) env CC)) for the race detector: testing without -race"
	@failed=; for m in $(MODULES); do \
		echo "== module $$m"; \
		(cd $$m && $(GO) vet ./... && $(GO) test $(RACE) -count=1 -timeout 20m ./...) || failed="$$failed $$m"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAIL in module(s):$$failed"; exit 1; fi

## test-short: every module's tests with -short, no race detector
test-short:
	@failed=; for m in $(MODULES); do (cd $$m && $(GO) test -short -count=1 ./...) || failed="$$failed $$m"; done; \
	if [ -n "$$failed" ]; then echo "FAIL in module(s):$$failed"; exit 1; fi

## generate: run baldurgen (go generate ./...) in every module that has directives
generate:
	@set -e; for m in $(GEN_MODULES); do (cd $$m && $(GO) generate ./...); done

## golden: re-record testdata/golden/*/ from the current generator
golden:
	$(GO) test ./generator -run Golden -update

## bench: hot-path benchmarks (direct call vs generated wrapper vs gobreaker vs failsafe-go), through benchstat
bench:
	cd bench && $(GO) test -run '^$$' -bench . -benchmem -count 6 -cpu 1,2 . | tee ../bench.txt
	cd bench && $(GO) tool benchstat ../bench.txt

## bench-idem: idempotency claim + complete on Redis vs redis-benchmark SET, interleaved (needs redis-tools)
bench-idem:
	bench/idem-redis.sh 5

## bench-gen: time baldurgen on a generated 50 interfaces x 20 methods package
bench-gen:
	$(GO) test -run '^$$' -bench Generate50x20 -benchtime 5x ./generator/

## lint: gofmt, go vet in every module, baldurgen -check where there are directives (nothing but Go)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@set -e; for m in $(MODULES); do echo "== go vet in $$m"; (cd $$m && $(GO) vet ./...); done
	@set -e; for m in $(GEN_MODULES); do (cd $$m && $(GO) run github.com/baldur-go/baldur/cmd/baldurgen -check ./...); done

## mutate: plant each bug of internal/mutate/mutants.go in a scratch copy, one at a time, and print the
## kill rate and the survivors (minutes of tests; not part of test or CI: run it before a release)
mutate:
	$(GO) run ./internal/mutate $(if $(RUN),-run '$(RUN)')

## fuzz: run every fuzz target (any func Fuzz* in a test file, in any module) for FUZZTIME (30s) each
fuzz:
	@set -e; for d in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$(cd $$d && $(GO) test -list '^Fuzz' . | grep '^Fuzz'); do \
			echo "== $$d $$f"; \
			(cd $$d && $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) .); \
		done; \
	done
