// Package floors holds no code: its test guards the package graph. Bulwark is
// built in floors (internal, then agent and alerting, then playbooks, then
// collector and dashboards, then the commands), and a package may import
// only its own room or a lower floor. No production binary links a test
// helper from internal/testenv. No exported package variable holds state
// another package could change (globals_test.go).
package floors
