#!/bin/sh
# Stop the service before its binary goes; the user, /etc/sqlvault and /var/lib/sqlvault stay.
set -e
if [ -d /run/systemd/system ]; then
	systemctl disable --now sqlvault-agent.service >/dev/null 2>&1 || true
fi
