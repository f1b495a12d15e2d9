// Package playbooks will hold the emergency-response playbooks: their
// format, step kinds, the runner with approvals and audit, and failover
// drills that emulate the loss of a provider or a country. Nothing lives
// here yet; see the playbooks issue.
package playbooks
