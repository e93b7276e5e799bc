//go:build tools

// Package tools only records the commands this module builds.
package tools

import (
	_ "github.com/mutagen-io/mutagen/cmd/mutagen"
	_ "github.com/mutagen-io/mutagen/cmd/mutagen-agent"
)
