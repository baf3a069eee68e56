# baldur-go: every target works on a fresh machine with only Go installed
# (Redis and Chromium tests skip with a message when those are missing; CI installs them).
GO ?= go
PKGS := ./...
# The race detector needs cgo and a C compiler; without one the tests still run, without -race.
RACE ?= $(shell command -v "$$($(GO) env CC)" >/dev/null 2>&1 && echo -race)

.PHONY: demo serve test test-short generate golden bench bench-idem bench-gen lint fuzz tools mutate

## demo: regenerate, build and run the scripted payments scenario (embedded store, no Redis needed)
demo: generate
	$(GO) run ./examples/payments

## serve: keep simulated traffic flowing and the admin console up on 127.0.0.1:9090 until interrupted
serve: generate
	$(GO) run ./examples/payments -serve

## test: vet, then every test with the race detector (when a C compiler is there for it)
test:
	$(GO) vet $(PKGS)
	@[ -n "$(RACE)" ] || echo "note: no C compiler ($$($(GO) env CC)) for the race detector: testing without -race"
	$(GO) test $(RACE) -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

## generate: run baldurgen over the module (go generate ./...)
generate:
	$(GO) generate ./...

## golden: re-record testdata/golden/*/ from the current generator
golden:
	$(GO) test ./generator -run Golden -update

## bench: hot-path benchmarks (direct call vs generated wrapper vs gobreaker vs failsafe-go) and the rest
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 -cpu 1,2 ./bench/ | tee bench.txt
	$(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da bench.txt

## bench-idem: idempotency claim + complete on Redis vs redis-benchmark SET, interleaved (needs redis-tools)
bench-idem:
	bench/idem-redis.sh 5

## bench-gen: time baldurgen on a generated 50 interfaces x 20 methods package
bench-gen:
	$(GO) test -run '^$$' -bench Generate50x20 -benchtime 5x ./generator/

## lint: gofmt, go vet, staticcheck-free checks that need nothing but Go
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run ./cmd/baldurgen -check ./...

## mutate: plant each bug of internal/mutate/mutants.go in a scratch copy, one at a time, and print the
## kill rate and the survivors (minutes of tests; not part of test or CI: run it before a release)
mutate:
	$(GO) run ./internal/mutate $(if $(RUN),-run '$(RUN)')

## fuzz: run every fuzz target of the module for FUZZTIME each
FUZZTIME ?= 30s
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' --exclude-dir=testdata '^func Fuzz' .); do \
	  for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "$(GO) test -run '^$$' -fuzz '^$$t$$' -fuzztime $(FUZZTIME) ./$$(dirname $${f#./})"; \
	    $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) ./$$(dirname $${f#./}); \
	  done; \
	done
