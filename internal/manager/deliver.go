package manager

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
)

// Delivery says where a new secret went. Secret is set only in inline mode.
type Delivery struct {
	Mode         string `json:"delivery,omitempty"`
	SecretFile   string `json:"secret_file,omitempty"`
	Secret       string `json:"secret,omitempty"`
	Acknowledged *bool  `json:"acknowledged,omitempty"`
}

// checkDelivery fails before anything changes upstream if the secret could
// not be stored afterwards.
func (m *Manager) checkDelivery() error {
	if m.opts.Reveal == secret.ModeInline {
		return nil
	}
	if err := secret.EnsurePrivateDir(m.opts.SecretsDir); err != nil {
		return fmt.Errorf("new secrets go to KEYWARD_SECRETS_DIR, which is not usable: %v; nothing was changed", err)
	}
	return nil
}

// deliver hands the new secret to the place the operator chose. Elicitation
// falls back to a file whenever the human did not see it, so no secret is lost.
func (m *Manager) deliver(ctx context.Context, p provider.Provider, c provider.Created) (Delivery, []string, error) {
	switch m.opts.Reveal {
	case secret.ModeInline:
		return Delivery{Mode: string(secret.ModeInline), Secret: c.Secret},
			[]string{"the secret is shown here once and cannot be retrieved again; store it now"}, nil
	case secret.ModeElicit:
		if h := humanFrom(ctx); h != nil {
			msg := fmt.Sprintf("New secret for key %q (%s) on %s:\n\n%s\n\nCopy it now: it is shown only once and keyward keeps no copy.", c.Key.Name, c.Key.ID, p.Title(), c.Secret)
			ack, err := h.ShowSecret(ctx, msg)
			if err == nil && ack {
				t := true
				return Delivery{Mode: string(secret.ModeElicit), Acknowledged: &t}, []string{"the secret was shown to the human, not to you"}, nil
			}
			d, notes, ferr := m.deliverFile(p, c)
			f := false
			d.Acknowledged = &f
			reason := "the human did not acknowledge it"
			if err != nil {
				reason = "showing it failed"
			}
			return d, append(notes, "elicitation was tried but "+reason+", so the secret was written to a file instead"), ferr
		}
		d, notes, err := m.deliverFile(p, c)
		return d, append(notes, "this client cannot show the secret to the human (no elicitation support), so it was written to a file instead"), err
	}
	return m.deliverFile(p, c)
}

func (m *Manager) deliverFile(p provider.Provider, c provider.Created) (Delivery, []string, error) {
	path, err := secret.WriteFile(m.opts.SecretsDir, p.Name(), c.Key.ID, c.Secret)
	if err != nil {
		return Delivery{}, nil, err
	}
	return Delivery{Mode: string(secret.ModeFile), SecretFile: path},
		[]string{"the secret is in " + path + " (mode 0600); point the program that needs it at that file"}, nil
}

func (m *Manager) removeSecretFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	removed, err := secret.RemoveFile(path)
	if err != nil {
		return "", fmt.Errorf("could not remove the secret file %s: %v; delete it by hand", path, err)
	}
	if !removed {
		return "", nil
	}
	return path, nil
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
