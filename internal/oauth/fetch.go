package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// checkURL refuses what could not be trusted as an issuer's address: only
// https, or http to this machine (a test issuer, a local proxy).
func checkURL(what, raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s (%q) is not an absolute URL such as https://idp.example/tenant", what, raw)
	}
	if u.Scheme == "https" {
		return nil
	}
	if u.Scheme == "http" && loopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("%s (%s) must use https (plain http only to this machine), or its keys could be swapped on the way", what, raw)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fetch reads the issuer's keys, discovering where they are first when no
// JWKS URL was given. The caller holds v.fetchMu.
func (v *Verifier) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if v.jwksURL == "" {
		u, err := v.discover(ctx)
		if err != nil {
			return set, err
		}
		v.jwksURL = u
	}
	// Each key on its own: one of a type go-jose does not know (an issuer
	// may publish keys for other uses) must not hide the others.
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := v.getJSON(ctx, v.jwksURL, &doc); err != nil {
		return set, err
	}
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if json.Unmarshal(raw, &k) == nil {
			set.Keys = append(set.Keys, k)
		}
	}
	if len(set.Keys) == 0 {
		return set, fmt.Errorf("%s lists no keys keyward can use", v.jwksURL)
	}
	return set, nil
}

// metadata is the part of an authorization server's metadata keyward reads.
type metadata struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// discover finds the issuer's JWKS URL in its metadata: RFC 8414's
// well-known location first (inserted before the issuer's path), then
// OpenID Connect discovery's (appended to it). The metadata must name the
// same issuer, or it is some other server's.
func (v *Verifier) discover(ctx context.Context) (string, error) {
	iss, err := url.Parse(v.s.Issuer)
	if err != nil {
		return "", err
	}
	path := strings.TrimSuffix(iss.Path, "/")
	candidates := []string{
		iss.Scheme + "://" + iss.Host + "/.well-known/oauth-authorization-server" + path,
		strings.TrimSuffix(v.s.Issuer, "/") + "/.well-known/openid-configuration",
	}
	var errs []error
	for _, c := range candidates {
		var md metadata
		if err := v.getJSON(ctx, c, &md); err != nil {
			errs = append(errs, err)
			continue
		}
		if md.Issuer != v.s.Issuer {
			errs = append(errs, fmt.Errorf("%s names the issuer %q, not %q", c, echo(md.Issuer), v.s.Issuer))
			continue
		}
		if err := checkURL("the issuer's jwks_uri", md.JWKSURI); err != nil {
			errs = append(errs, err)
			continue
		}
		return md.JWKSURI, nil
	}
	return "", fmt.Errorf("no metadata naming the issuer's keys: %w; set the JWKS URL explicitly", errors.Join(errs...))
}

// getJSON fetches a JSON document of bounded size. Errors name the URL and
// the status, never the body, which is the issuer's to fill.
func (v *Verifier) getJSON(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.s.Client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s failed: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s answered %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchBytes+1))
	if err != nil {
		return fmt.Errorf("reading %s failed: %w", u, err)
	}
	if len(body) > maxFetchBytes {
		return fmt.Errorf("%s answered more than %d bytes", u, maxFetchBytes)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s did not answer the JSON expected", u)
	}
	return nil
}
