package pbxusers

// BackupNumber returns the external number a policy sends calls to when the
// user is unavailable (the number of a BackupRouting policy), or "".
func (p RoutingPolicy) BackupNumber() string {
	if d := p.Default.OnUnavailable; d != nil && d.Kind == DestExternal {
		return d.Target
	}
	return ""
}

// WithBackupNumber returns the policy with Aloware-style backup routing to
// number (see BackupRouting), keeping the answer mode; an empty number
// removes the backup routing and returns the default policy with the same
// answer mode.
func (p RoutingPolicy) WithBackupNumber(number string) RoutingPolicy {
	mode := p.AnswerMode
	var out RoutingPolicy
	if number != "" {
		out = BackupRouting(number, 0, 0)
	}
	if mode != "" {
		out.AnswerMode = mode
	}
	return out
}
