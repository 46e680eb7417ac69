package manifestdir

import "testing"

func TestCounts(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"pod.yaml", true},
		{"pod.yml", true},
		{"pod.json", true},
		{"Pod.YAML", true},
		{"a.b.yaml", true},
		{"", false},
		{"pod", false},
		{"pod.txt", false},
		{"yaml", false},
		{".yaml", false},
		{".pod.yaml", false},
		{"..data", false},
		{"..2026_01_01_00_00_00.123", false},
		{".pod.yaml.swp", false},
		{"pod.yaml~", false},
		{"pod.yaml.swp", false},
		{"pod.yaml.swo", false},
		{"pod.yaml.swx", false},
		{"pod.yaml.bak", false},
		{"pod.yaml.orig", false},
		{"pod.yaml.tmp", false},
		{"pod.yaml.dpkg-old", false},
		{"pod.yaml.dpkg-new", false},
		{"pod.dpkg-dist.yaml", false},
		{"#pod.yaml#", false},
		{".#pod.yaml", false},
		{"4913", false},
		{"#", false},
	}
	for _, tt := range tests {
		if got := Counts(tt.name); got != tt.want {
			t.Errorf("Counts(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
