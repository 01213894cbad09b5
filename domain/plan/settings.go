package plan

import "github.com/apiq/apiq/domain"

// Settings are a tenant's rules for plans.
type Settings struct {
	// DestructiveRequiresSecondAdmin requires a plan version with
	// destructive calls to be confirmed by an ADMIN who asked for none of
	// its versions.
	DestructiveRequiresSecondAdmin bool `json:"destructive_requires_second_admin"`
}

// SettingsState is a tenant's plan settings folded from their stream
// (the zero value: nothing required beyond one confirmation).
type SettingsState struct {
	Settings Settings
}

// ChangeSettings sets a tenant's plan settings.
type ChangeSettings struct {
	Settings Settings
}

// DecideSettings returns the events that change the settings to c's
// (none when they are already).
func DecideSettings(s SettingsState, c ChangeSettings) ([]domain.Event, error) {
	if s.Settings == c.Settings {
		return nil, nil
	}
	return []domain.Event{SettingsChanged{Settings: c.Settings}}, nil
}

// EvolveSettings folds one settings event into the state.
func EvolveSettings(s SettingsState, ev domain.Event) SettingsState {
	if e, ok := ev.(SettingsChanged); ok {
		s.Settings = e.Settings
	}
	return s
}
