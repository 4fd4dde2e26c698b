package entity

import "fmt"

// ActionLimits are an action's limits: timeout in ms, memory and logs in MB,
// and intra-container concurrency.
type ActionLimits struct {
	Timeout     int `json:"timeout"`
	Memory      int `json:"memory"`
	Logs        int `json:"logs"`
	Concurrency int `json:"concurrency"`
}

// ActionLimitsPut is the partial form of ActionLimits in a PUT body: each
// field is updated only if present.
type ActionLimitsPut struct {
	Timeout     *int `json:"timeout,omitempty"`
	Memory      *int `json:"memory,omitempty"`
	Logs        *int `json:"logs,omitempty"`
	Concurrency *int `json:"concurrency,omitempty"`
}

// Apply returns base with the present fields of p replacing base's.
func (p *ActionLimitsPut) Apply(base ActionLimits) ActionLimits {
	if p == nil {
		return base
	}
	if p.Timeout != nil {
		base.Timeout = *p.Timeout
	}
	if p.Memory != nil {
		base.Memory = *p.Memory
	}
	if p.Logs != nil {
		base.Logs = *p.Logs
	}
	if p.Concurrency != nil {
		base.Concurrency = *p.Concurrency
	}
	return base
}

// Range is a minimum, a default and a maximum.
type Range struct{ Min, Std, Max int }

// SystemLimits are the platform-wide limits (OpenWhisk's whisk.* limits and
// throttles); namespace limits (UserLimits) may narrow or override them.
type SystemLimits struct {
	Timeout     Range // ms
	Memory      Range // MB
	Logs        Range // MB
	Concurrency Range

	ExecSizeMax      int // bytes of exec (code) in a PUT
	ParameterSizeMax int // bytes of parameters, and of annotations, in a PUT
	PayloadMax       int // bytes of an invoke or fire request body
	TruncationSize   int // bytes of a result before it is truncated

	InvocationsPerMinute  int
	ConcurrentInvocations int
	FiresPerMinute        int
	SequenceMaxLength     int
}

// DefaultSystemLimits returns OpenWhisk's stock limits (reference §3.9).
func DefaultSystemLimits() SystemLimits {
	return SystemLimits{
		Timeout:               Range{Min: 100, Std: 60000, Max: 300000},
		Memory:                Range{Min: 128, Std: 256, Max: 512},
		Logs:                  Range{Min: 0, Std: 10, Max: 10},
		Concurrency:           Range{Min: 1, Std: 1, Max: 1},
		ExecSizeMax:           48 * 1024 * 1024,
		ParameterSizeMax:      1024 * 1024,
		PayloadMax:            1024 * 1024,
		TruncationSize:        1024 * 1024,
		InvocationsPerMinute:  60,
		ConcurrentInvocations: 30,
		FiresPerMinute:        60,
		SequenceMaxLength:     50,
	}
}

// DefaultActionLimits returns the limits a new action gets for absent fields.
func (s SystemLimits) DefaultActionLimits() ActionLimits {
	return ActionLimits{Timeout: s.Timeout.Std, Memory: s.Memory.Std, Logs: s.Logs.Std, Concurrency: s.Concurrency.Std}
}

// Effective returns the system limits narrowed by a namespace's limits:
// namespace min/max values replace the system's where set.
func (s SystemLimits) Effective(u UserLimits) SystemLimits {
	pick := func(v *int, def int) int {
		if v != nil {
			return *v
		}
		return def
	}
	s.Timeout.Min = pick(u.MinActionTimeout, s.Timeout.Min)
	s.Timeout.Max = pick(u.MaxActionTimeout, s.Timeout.Max)
	s.Memory.Min = pick(u.MinActionMemory, s.Memory.Min)
	s.Memory.Max = pick(u.MaxActionMemory, s.Memory.Max)
	s.Logs.Min = pick(u.MinActionLogs, s.Logs.Min)
	s.Logs.Max = pick(u.MaxActionLogs, s.Logs.Max)
	s.Concurrency.Min = pick(u.MinActionConcurrency, s.Concurrency.Min)
	s.Concurrency.Max = pick(u.MaxActionConcurrency, s.Concurrency.Max)
	s.ParameterSizeMax = pick(u.MaxParameterSize, s.ParameterSizeMax)
	s.PayloadMax = pick(u.MaxPayloadSize, s.PayloadMax)
	s.TruncationSize = pick(u.TruncationSize, s.TruncationSize)
	s.InvocationsPerMinute = pick(u.InvocationsPerMinute, s.InvocationsPerMinute)
	s.ConcurrentInvocations = pick(u.ConcurrentInvocations, s.ConcurrentInvocations)
	s.FiresPerMinute = pick(u.FiresPerMinute, s.FiresPerMinute)
	return s
}

// CheckAction validates action limits against s, returning an ErrInvalid
// error with OpenWhisk's message for the first violation, e.g. "memory 1024
// MB exceeds allowed threshold of 512 MB" or "duration 400000 milliseconds
// exceeds allowed threshold of 300000 milliseconds" (OpenWhisk's TimeLimit,
// MemoryLimit, LogLimit and ConcurrencyLimit requirement texts).
func (s SystemLimits) CheckAction(l ActionLimits) error {
	checks := []struct {
		name, unit string
		v          int
		r          Range
	}{
		{"duration", "milliseconds", l.Timeout, s.Timeout},
		{"memory", "MB", l.Memory, s.Memory},
		{"log size", "MB", l.Logs, s.Logs},
		{"concurrency", "", l.Concurrency, s.Concurrency},
	}
	for _, c := range checks {
		if err := checkRange(c.name, c.unit, c.v, c.r); err != nil {
			return err
		}
	}
	return nil
}

func checkRange(name, unit string, v int, r Range) error {
	q := func(n int) string {
		if unit == "" {
			return fmt.Sprint(n)
		}
		return fmt.Sprintf("%d %s", n, unit)
	}
	if v < r.Min {
		return Invalidf("%s %s below allowed threshold of %s", name, q(v), q(r.Min))
	}
	if v > r.Max {
		return Invalidf("%s %s exceeds allowed threshold of %s", name, q(v), q(r.Max))
	}
	return nil
}
