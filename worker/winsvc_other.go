//go:build !windows

package worker

import "context"

// runAsService: only Windows has a service control manager that starts the process
// itself; systemd runs the worker as a plain process.
func runAsService(func(context.Context) error) (bool, error) { return false, nil }
