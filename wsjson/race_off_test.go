//go:build !race

package wsjson

const raceEnabled = false
