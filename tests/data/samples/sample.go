// Package cache keeps recently used values in memory.
package cache

import (
	"sync"
	"time"
)

// DefaultTTL is how long an entry lives.
const DefaultTTL = 5 * time.Minute

// Store is anything that can load a value by key.
type Store interface {
	Load(key string) ([]byte, error)
}

// Cache is a thread-safe map with expiry.
type Cache struct {
	mu      sync.Mutex
	entries map[string]entry
	backing Store
}

type entry struct {
	value   []byte
	expires time.Time
}

// New makes a cache in front of a store.
func New(backing Store) *Cache {
	return &Cache{entries: make(map[string]entry), backing: backing}
}

// Get returns the cached value or loads it.
func (c *Cache) Get(key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && time.Now().Before(e.expires) {
		return e.value, nil
	}
	value, err := c.backing.Load(key)
	if err != nil {
		return nil, err
	}
	c.entries[key] = entry{value: value, expires: expiry(DefaultTTL)}
	return value, nil
}

func expiry(ttl time.Duration) time.Time {
	return time.Now().Add(ttl)
}
