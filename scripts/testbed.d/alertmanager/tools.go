//go:build tools

// Package tools pins the Alertmanager command this module builds.
package tools

import (
	_ "github.com/prometheus/alertmanager/cmd/alertmanager"
)
