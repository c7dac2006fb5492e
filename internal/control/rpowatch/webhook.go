package rpowatch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Webhook is where breaches are POSTed. The secret header's value is given by reference — the
// name of an environment variable or a file — and read when a request is sent, so it is in
// no configuration file, workflow input, history or log.
type Webhook struct {
	URL string
	// Header is the header the secret goes in (default Authorization).
	Header string
	// SecretEnv or SecretFile names where the header's value is; neither: no header.
	SecretEnv, SecretFile string
	Client                *http.Client
}

// Payload is the JSON the webhook receives.
type Payload struct {
	Schema   string    `json:"schema"`
	Sweep    string    `json:"sweep"`
	At       time.Time `json:"at"`
	Items    int       `json:"items"`
	Breached []Finding `json:"breached"` // worst first; empty when every breach cleared
}

// PayloadSchema tags Payload.
const PayloadSchema = "sqlvault.rpo-webhook/v1"

// PayloadOf is the report's webhook payload.
func PayloadOf(r *Report) Payload {
	b := r.Breached()
	if b == nil {
		b = []Finding{}
	}
	return Payload{Schema: PayloadSchema, Sweep: r.Sweep, At: r.At, Items: len(r.Findings), Breached: b}
}

func (w Webhook) secret() (string, error) {
	switch {
	case w.SecretEnv != "":
		v, ok := os.LookupEnv(w.SecretEnv)
		if !ok {
			return "", fmt.Errorf("webhook secret: environment variable %s is not set: set it in the control worker's environment", w.SecretEnv)
		}
		return v, nil
	case w.SecretFile != "":
		d, err := os.ReadFile(w.SecretFile)
		if err != nil {
			return "", fmt.Errorf("webhook secret: %v: check watchdog.webhook.secretFile", err)
		}
		return strings.TrimSpace(string(d)), nil
	}
	return "", nil
}

// Post sends p; an answer other than 2xx is an error naming the status (the activity's
// retries send it again). The error never contains the secret.
func (w Webhook) Post(ctx context.Context, p Payload) (int, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return 0, err
	}
	secret, err := w.secret()
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook url: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		h := w.Header
		if h == "" {
			h = "Authorization"
		}
		req.Header.Set(h, secret)
	}
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook POST: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("webhook answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}
