//go:build !race

package collector

// raceEnabled is true under the race detector, which makes some hostile
// inputs take minutes of CPU: tests scale them down there.
const raceEnabled = false
