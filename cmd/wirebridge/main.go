// Command wirebridge turns network traffic into events and acts on them.
// main only wires the process to the application: signals, arguments and
// standard streams. Everything else lives in internal/app.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wirebridge/wirebridge/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first SIGINT or SIGTERM starts the graceful stop; from then on the
	// signals have their default action again, so a second one ends the
	// process at once (Ctrl-C twice).
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := app.Main(ctx, os.Args[1:], app.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
