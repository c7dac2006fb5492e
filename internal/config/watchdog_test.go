package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The watchdog's settings: a default interval, a floor, an http(s) webhook URL, and a
// secret by reference only.
func TestValidateWatchdog(t *testing.T) {
	c := Default()
	assert.Equal(t, DefaultWatchdogInterval, c.Watchdog.Interval)
	check := func(w Watchdog) error {
		var v validator
		c := Default()
		c.Role = RoleControl
		c.Watchdog = w
		c.validateWatchdog(&v)
		if len(v.errs) == 0 {
			return nil
		}
		return v.errs[0]
	}
	require.NoError(t, check(Watchdog{Interval: time.Minute, Webhook: Webhook{URL: "https://hooks.example.com/x", Secret: Secret{Env: "HOME"}}}))
	require.NoError(t, check(Watchdog{Off: true}), "off needs no interval")
	assert.ErrorContains(t, check(Watchdog{Interval: time.Second}), "watchdog.interval: 1s is too short")
	assert.ErrorContains(t, check(Watchdog{Interval: time.Minute, Webhook: Webhook{URL: "hooks.example.com"}}), "watchdog.webhook.url")
	err := check(Watchdog{Interval: time.Minute, Webhook: Webhook{URL: "https://h.example.com", Secret: Secret{Value: "tok"}}})
	assert.ErrorContains(t, err, "watchdog.webhook.secret.value")
	assert.NotContains(t, err.Error(), "tok")
	assert.ErrorContains(t, check(Watchdog{Interval: time.Minute, Webhook: Webhook{URL: "https://h.example.com", Secret: Secret{Env: "SQLVAULT_SURELY_UNSET_VAR"}}}),
		"watchdog.webhook.secret")
}
