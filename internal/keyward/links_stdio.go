package keyward

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/console"
	"github.com/keyward/keyward/internal/peer"
)

// serveLinkPage opens, in stdio mode with KEYWARD_REVEAL=url, a loopback
// listener on 127.0.0.1 (a random port) that serves only one-time links'
// pages, for the human on this machine. It answers only requests whose Host
// is that address (a DNS-rebinding page has another) from processes of the
// same OS user as keyward (the kernel's socket table says who connected).
// The returned stop closes it.
func (a *App) serveLinkPage(ctx context.Context) (stop func(), err error) {
	if a.operator.links == nil {
		return func() {}, nil
	}
	if err := peer.Supported(); err != nil {
		return nil, fmt.Errorf("KEYWARD_REVEAL=url in stdio mode needs a page on this machine that only your own user can open, and %w; use KEYWARD_REVEAL=file or elicit here, or keyward serve with a console", err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("opening the one-time link page on 127.0.0.1 failed: %w", err)
	}
	page, err := console.NewLinkPage(a.operator.links, a.Manager, a.operator.sealer, time.Now, a.Log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	host := ln.Addr().String()
	base := "http://" + host
	a.operator.links.SetBase(base)
	srv := &http.Server{
		Handler:           sameUser(host, os.Getuid(), page, a.Log),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       log.New(slogWriter{a.Log}, "", 0),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Warn("the one-time link page stopped", "err", err)
		}
	}()
	a.Log.Info("one-time links to new secrets open on this machine only, for this user", "page", base+"/reveal/…")
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, nil
}

// sameUser serves next only to requests for host (not a rebound name) from
// a socket owned by uid.
func sameUser(host string, uid int, next http.Handler, logger interface {
	Warn(msg string, args ...any)
}) http.Handler {
	self := netip.MustParseAddrPort(host)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		console.SecurityHeaders(w.Header())
		if !strings.EqualFold(r.Host, host) {
			http.Error(w, "this page answers only at "+host+"; open the link exactly as keyward gave it", http.StatusMisdirectedRequest)
			return
		}
		from, err := netip.ParseAddrPort(r.RemoteAddr)
		owner := -1
		if err == nil {
			owner, err = peer.Owner(from, self)
		}
		if err != nil || owner != uid {
			logger.Warn("refused a one-time link request from another user's process or an unknown socket", "remote", r.RemoteAddr, "owner_uid", owner)
			http.Error(w, "this page opens only for the user keyward runs as, on this machine", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
