package collectorconfig

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Every key of a receiver but its name is a kind of notifier in
// receiverKinds, whose set reads that key alone; every kind is a key. A
// notifier half-registered (a field without its entry, or an entry whose
// set reads another field) fails here; collector's TestReceiverKindsBuilt
// checks each kind has a builder.
func TestReceiverKindsDeclared(t *testing.T) {
	kinds := ReceiverKinds()
	var keys []string
	rt := reflect.TypeFor[Receiver]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "name" {
			continue
		}
		keys = append(keys, key)
		if !slices.Contains(kinds, key) {
			t.Errorf("Receiver.%s (yaml %q) is no kind of receiverKinds", f.Name, key)
			continue
		}
		var r Receiver
		v := reflect.ValueOf(&r).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.Pointer:
			v.Set(reflect.New(f.Type.Elem()))
		case reflect.Bool:
			v.SetBool(true)
		default:
			t.Fatalf("Receiver.%s: a kind's key is a pointer to its settings, or a bool", f.Name)
		}
		if got := r.Kind(); got != key {
			t.Errorf("a receiver with only %s set is of kind %q", key, got)
		}
	}
	for _, k := range kinds {
		if !slices.Contains(keys, k) {
			t.Errorf("kind %q is no key of Receiver", k)
		}
	}
	if k := (&Receiver{Discard: true, Webhook: &WebhookReceiver{}}).Kind(); k != "" {
		t.Errorf("a receiver of two kinds is of kind %q", k)
	}
	if k := (&Receiver{}).Kind(); k != "" {
		t.Errorf("a receiver of no kind is of kind %q", k)
	}
}
