package auth

import (
	"errors"
	"fmt"
)

// passwordUser is a user who may log in to the console with a password.
type passwordUser struct {
	User
	hash *passwordHash
}

// ErrUnknownUser is a login name no password user has.
var ErrUnknownUser = errors.New("unknown user")

// AddPassword lets u log in to the console with the password of hash
// (argon2id in PHC format, or bcrypt). A user may hold a token as well.
func (us *Users) AddPassword(hash string, u User) error {
	h, err := parsePasswordHash(hash)
	if err != nil {
		return fmt.Errorf("password_hash of user %q: %w", u.ID, err)
	}
	m := *us.pw.Load()
	if _, dup := m[u.ID]; dup {
		return fmt.Errorf("user %q has two passwords", u.ID)
	}
	m[u.ID] = passwordUser{User: u, hash: h}
	return nil
}

// CheckPassword returns the user of id when password is theirs, and the
// fingerprint of the hash it matched (a session ends when it changes).
func (us *Users) CheckPassword(id, password string) (User, [32]byte, error) {
	m := *us.pw.Load()
	pu, ok := m[id]
	if !ok {
		// An unknown name takes as long to refuse as a wrong password:
		// the work of another user's hash is done, its answer ignored.
		for _, other := range m {
			other.hash.verify(password)
			break
		}
		return User{}, [32]byte{}, ErrUnknownUser
	}
	if err := pu.hash.verify(password); err != nil {
		return User{}, [32]byte{}, err
	}
	return pu.User, pu.hash.fingerprint(), nil
}

// passwordUserNow returns the current entry of a logged-in user, if its
// hash is still the one logged in with (reload may change or remove it).
func (us *Users) passwordUserNow(id string, fp [32]byte) (User, bool) {
	pu, ok := (*us.pw.Load())[id]
	if !ok || pu.hash.fingerprint() != fp {
		return User{}, false
	}
	return pu.User, true
}
