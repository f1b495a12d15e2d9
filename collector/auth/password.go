package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// ErrBadPassword is a password that does not match its hash.
var ErrBadPassword = errors.New("wrong password")

// Argon2Params are the cost of an argon2id hash.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 is RFC 9106's second recommended setting (64 MiB, 3
// passes, 4 lanes): about 0.1 s on one core of a small server.
func DefaultArgon2() Argon2Params { return Argon2Params{Memory: 64 << 10, Time: 3, Threads: 4} }

// Bounds a hash from a configuration file may ask for: a typo must not
// make every login allocate gigabytes.
const (
	maxArgonMemory  = 1 << 20 // 1 GiB in KiB
	maxArgonTime    = 16
	maxArgonThreads = 16
	minPasswordLen  = 8
	maxPasswordLen  = 1024
)

// HashPassword returns the PHC string of password under argon2id with p
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash), as users[].password_hash takes it.
func HashPassword(password string, p Argon2Params) (string, error) {
	if n := len(password); n < minPasswordLen || n > maxPasswordLen {
		return "", fmt.Errorf("a password must have %d to %d bytes, not %d", minPasswordLen, maxPasswordLen, n)
	}
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxArgonMemory || p.Time == 0 || p.Time > maxArgonTime || p.Threads == 0 || p.Threads > maxArgonThreads {
		return "", fmt.Errorf("argon2id parameters %+v out of bounds", p)
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// passwordHash is a parsed users[].password_hash: argon2id or bcrypt.
type passwordHash struct {
	text   string
	bcrypt bool
	p      Argon2Params
	salt   []byte
	key    []byte
}

// ParsePasswordHash checks a hash's format and cost bounds without
// computing anything.
func ParsePasswordHash(s string) error {
	_, err := parsePasswordHash(s)
	return err
}

func parsePasswordHash(s string) (*passwordHash, error) {
	if strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$") {
		cost, err := bcrypt.Cost([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("bcrypt hash: %w", err)
		}
		if cost > 16 {
			return nil, fmt.Errorf("bcrypt cost %d is above 16", cost)
		}
		return &passwordHash{text: s, bcrypt: true}, nil
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, errors.New(`want "$argon2id$v=19$m=...,t=...,p=...$SALT$HASH" (bulwark user hash-password) or a bcrypt hash`)
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return nil, fmt.Errorf("argon2id version %q: want v=%d", parts[2], argon2.Version)
	}
	h := &passwordHash{text: s}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.p.Memory, &h.p.Time, &h.p.Threads); err != nil {
		return nil, fmt.Errorf("argon2id parameters %q: %w", parts[3], err)
	}
	if h.p.Memory > maxArgonMemory || h.p.Time == 0 || h.p.Time > maxArgonTime || h.p.Threads == 0 || h.p.Threads > maxArgonThreads || h.p.Memory < 8*uint32(h.p.Threads) {
		return nil, fmt.Errorf("argon2id parameters %q out of bounds (m at most %d KiB, t 1 to %d, p 1 to %d)", parts[3], maxArgonMemory, maxArgonTime, maxArgonThreads)
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, errors.New("argon2id salt: want at least 8 bytes in unpadded base64")
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.key) < 16 {
		return nil, errors.New("argon2id hash: want at least 16 bytes in unpadded base64")
	}
	return h, nil
}

// verify reports whether password matches, in time independent of where
// they differ.
func (h *passwordHash) verify(password string) error {
	if len(password) > maxPasswordLen {
		return ErrBadPassword
	}
	if h.bcrypt {
		if bcrypt.CompareHashAndPassword([]byte(h.text), []byte(password)) != nil {
			return ErrBadPassword
		}
		return nil
	}
	key := argon2.IDKey([]byte(password), h.salt, h.p.Time, h.p.Memory, h.p.Threads, uint32(len(h.key)))
	if subtle.ConstantTimeCompare(key, h.key) != 1 {
		return ErrBadPassword
	}
	return nil
}

// VerifyPassword checks password against a hash of users[].password_hash.
func VerifyPassword(hash, password string) error {
	h, err := parsePasswordHash(hash)
	if err != nil {
		return err
	}
	return h.verify(password)
}

// fingerprint names a hash without revealing it: a session remembers the
// fingerprint of the hash it logged in with, and ends when it changes.
func (h *passwordHash) fingerprint() [32]byte { return sha256.Sum256([]byte(h.text)) }
