// Command baldur is the operator's CLI for a service protected by baldur: it
// talks to the service's admin server to list and drive circuit breakers, to
// flip the kill switch and dry-run, to replay or purge dead letters, and to
// read the daily report.
//
// Usage:
//
//	baldur [--addr URL] [--json] <command> [arguments] [flags]
//
//	baldur cb list                              every breaker and its state
//	baldur cb show NAME                         one breaker
//	baldur cb reset|force-open|force-close|auto NAME [--reason R] --confirm [--override]
//	baldur control status                       kill switch and dry-run
//	baldur control disable --reason R --confirm turn every policy off
//	baldur control enable --confirm             turn them back on
//	baldur control dry-run on --confirm         policies only record (gated like disable)
//	baldur control dry-run off --confirm        same as go-live
//	baldur control go-live --confirm            leave dry-run
//	baldur control history                      who changed what, newest first
//	baldur control would-have [--limit N] [--service S]
//	baldur health                               the service's health report
//	baldur report [--date YYYY-MM-DD|today] [--days N]
//	                                            daily reports, newest first (a calm day is one line)
//	baldur dlq list [--domain D] [--state S] [--failure-type T] [--operation O] [--limit N] [--cursor C]
//	                                            dead letters, unresolved unless --state says otherwise
//	baldur dlq show ID                          one entry, with its arguments
//	baldur dlq stats                            entries by domain, failure type and state
//	baldur dlq replay ID [--override]           replay one pending entry now
//	baldur dlq replay --domain D [--failure-type T] [--operation O] [--limit N] [--override]
//	                                            replay pending entries in a batch
//	baldur dlq redrive ID                       fresh replay budget for an entry that needs review
//	baldur dlq purge ID --confirm               delete one entry
//	baldur dlq purge --domain D [--state S] [--failure-type T] [--limit N] --confirm
//	                                            delete the entries a filter selects
//	baldur top [--once] [--interval D]          services, calls/s, error rate, breaker state, the last
//	                                            hour as a sparkline; redrawn every D (2s) on a terminal
//
// The admin server's address comes from --addr, else BALDUR_ADMIN_ADDR, else
// http://127.0.0.1:9090. The admin key comes from BALDUR_ADMIN_KEY only (never a
// flag, so that it stays out of shell history and ps); the name recorded in the
// history from BALDUR_OPERATOR, else USER.
//
// The key never travels in clear text beyond loopback: an http:// address of
// another host is refused unless --insecure; an https:// one is verified
// against the system's roots or --ca-file (BALDUR_ADMIN_CA_FILE). Redirects
// are never followed: a 3xx answer is an error naming its Location.
//
// Destructive actions (breaker actions, the kill switch, go-live, DLQ purge)
// also need the server to run with BALDUR_ADMIN_UNLOCK=1 and --confirm on the
// command line; purge needs a key with the admin role. A refusal names the
// gate that refused and how to pass it.
//
// Every command accepts --json: the server's answer is printed as JSON on
// stdout, refusals included. Exit status: 0 done, 1 failed or refused (and a
// DLQ replay whose call failed again: the entry is not resolved), 2 usage.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}
