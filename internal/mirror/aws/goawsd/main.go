// Command goawsd is test support for the mirror controller's aws provider,
// off the data path: it runs goaws (github.com/Admiral-Piett/goaws, a real
// SQS server in Go) on a loopback port of the caller's choosing (default:
// any free one) and prints its base URL on the first line of stdout, so the
// provider's tests can long-poll a real queue. It is a module of its own so
// that goaws and its dependencies stay out of wirebridge's go.mod; the tests
// build it with `go build` in this directory.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/Admiral-Piett/goaws/app"
	"github.com/Admiral-Piett/goaws/app/gosqs"
	"github.com/Admiral-Piett/goaws/app/router"
	log "github.com/sirupsen/logrus"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	visibility := flag.Int("visibility-timeout", 30, "default queue visibility timeout in seconds")
	verbose := flag.Bool("v", false, "log every request (goaws debug log) to stderr")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goawsd:", err)
		os.Exit(2)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		fmt.Fprintln(os.Stderr, "goawsd: listens on loopback addresses only, not", host)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goawsd:", err)
		os.Exit(1)
	}
	port := ln.Addr().(*net.TCPAddr).Port

	log.SetOutput(io.Discard)
	if *verbose {
		log.SetOutput(os.Stderr)
		log.SetLevel(log.DebugLevel)
	}
	// What goaws's config loader would set, with the port we got: queue URLs
	// come out as http://HOST:PORT/ACCOUNT/NAME.
	app.CurrentEnvironment = app.Environment{
		Host:      host,
		Port:      strconv.Itoa(port),
		AccountID: "100010001000",
		QueueAttributeDefaults: app.EnvQueueAttributes{
			VisibilityTimeout:  *visibility,
			MaximumMessageSize: 262144,
		},
	}
	quit := make(chan struct{})
	go gosqs.PeriodicTasks(time.Second, quit) // visibility timeouts, redelivery

	fmt.Printf("http://%s\n", ln.Addr())
	srv := &http.Server{Handler: router.New(), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "goawsd:", err)
		os.Exit(1)
	}
}
