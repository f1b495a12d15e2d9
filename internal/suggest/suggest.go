// Package suggest finds the names nearest to one mistyped, so an error can
// say what was meant ("no incident x; nearest: ...").
package suggest

// maxCompared bounds the cost of Distance: longer strings are compared by
// their first maxCompared bytes.
const maxCompared = 512

// Distance is the Levenshtein distance of a and b, by bytes, each cut to
// its first 512 bytes so that a hostile reference costs at most 512².
func Distance(a, b string) int {
	a, b = a[:min(len(a), maxCompared)], b[:min(len(b), maxCompared)]
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
