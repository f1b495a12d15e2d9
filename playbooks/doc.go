// Package playbooks is the emergency response as code: playbooks in a
// strict YAML format (name, owner, triggers, inputs, steps of the kinds in
// playbooks/step, timeouts, on_failure), checked by `bulwark check` with
// file and line against the collector's receivers, roles and exec
// allow-list. The runner, approvals, the audit timeline and failover
// drills build on it (the playbooks issue).
package playbooks
