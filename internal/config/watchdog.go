package config

import (
	"net/url"
	"time"
)

// Watchdog configures the RPO watchdog the control role starts (workflow
// sqlvault.RPOWatchdog under one workflow ID; see README "RPO watchdog").
type Watchdog struct {
	// Off: the control worker does not start the watchdog (one already running keeps running).
	Off bool `yaml:"off" json:"off"`
	// Interval between sweeps of every protected item. Default 5m.
	Interval time.Duration `yaml:"interval" json:"interval"`
	// Webhook, when url is set, receives the breaches as JSON whenever they change.
	Webhook Webhook `yaml:"webhook" json:"webhook"`
}

// Webhook is where the watchdog POSTs its breaches. The secret header's value is given by
// reference only (secret.env or secret.file): it is read by the activity that sends, and is
// never in a workflow's input, history or the logs.
type Webhook struct {
	URL    string `yaml:"url" json:"url"`
	Header string `yaml:"header" json:"header"` // default Authorization
	Secret Secret `yaml:"secret" json:"secret"`
}

// Defaults and bounds of the watchdog.
const (
	DefaultWatchdogInterval = 5 * time.Minute
	MinWatchdogInterval     = 10 * time.Second
)

func (c *Config) validateWatchdog(v *validator) {
	w := c.Watchdog
	if !c.Role.RunsControl() {
		return
	}
	if !w.Off && w.Interval < MinWatchdogInterval {
		v.addf("watchdog.interval", "%s is too short; each sweep reads every protected item's points, so use at least %s (default %s)", w.Interval, MinWatchdogInterval, DefaultWatchdogInterval)
	}
	if w.Webhook.URL != "" {
		if u, err := url.Parse(w.Webhook.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.addf("watchdog.webhook.url", "%q is not an http(s) URL; give the full URL the breaches are POSTed to", w.Webhook.URL)
		}
	}
	if w.Webhook.Secret.Value != "" {
		v.addf("watchdog.webhook.secret.value", "a secret written in the configuration gets copied with it; give secret.env (an environment variable's name) or secret.file (a file's path) instead")
	} else if !w.Webhook.Secret.IsZero() {
		v.secret("watchdog.webhook.secret", w.Webhook.Secret)
	}
}
