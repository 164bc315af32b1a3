package render

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// javaOutputs are Double.toString results printed by a real JDK 25
// (Temurin 25) for these bit patterns.
var javaOutputs = []struct {
	bits uint64
	want string
}{
	{0x3fe0000000000000, "0.5"},
	{0x3e7ad7f29abcaf48, "1.0E-7"},
	{0x419d6f3454000000, "1.23456789E8"},
	{0x0000000000000001, "4.9E-324"}, // Double.MIN_VALUE: two digits, not 5E-324
	{0x0000000000000002, "9.9E-324"},
	{0x0000000000000003, "1.5E-323"},
	{0x44c52d02c7e14af6, "2.0E23"},
	{0x44b52d02c7e14af6, "1.0E23"},
	{0x3f50624dd2f1a9fc, "0.001"},
	{0x3f50624dd2f1a9fb, "9.999999999999998E-4"},
	{0x3f5061e273273f09, "9.999E-4"},
	{0x416312d000000000, "1.0E7"},
	{0x416312cfffffffff, "9999999.999999998"},
	{0x416312cffff7ced9, "9999999.999"},
	{0x4059200000000000, "100.5"},
	{0xc059200000000000, "-100.5"},
	{0x4415af1d78b58c40, "1.0E20"},
	{0x7fefffffffffffff, "1.7976931348623157E308"},
	{0x0010000000000000, "2.2250738585072014E-308"},
	{0x3ff199999999999a, "1.1"},
	{0x3fb999999999999a, "0.1"},
	{0x3fd5555555555555, "0.3333333333333333"},
	{0x3fe5555555555555, "0.6666666666666666"},
	{0x444b1ae4d6e2ef50, "1.0E21"},
	{0x4480f0cf064dd592, "1.0E22"},
	{0x405edd2f1a9fbe77, "123.456"},
	{0x447c7e83209e90b2, "8.41E21"},
	{0x3f0a36e2eb1c432d, "5.0E-5"},
	{0x4011666666666666, "4.35"},
	{0x3fd3333333333333, "0.3"},
	{0x3ee4f8b588e368f1, "1.0E-5"},
	{0x4d65822107fcfd52, "7.078406569534682E64"},
	{0xae2dae7a9ab2e22d, "-2.984131458174351E-86"},
	{0xc1e3c91463535209, "-2.655560474603764E9"},
	{0xde8e8d4a7eb9d4d3, "-3.0520129786170505E147"},
	{0x0aa4551b3156e7cc, "2.115842553392141E-257"},
	{0xc0a0693f073d5f65, "-2100.6231021098088"},
	{0xbfe8fd6d8afb8876, "-0.7809360231879185"},
	{0x7b075857c7a7c27f, "4.3393178362598543E284"},
	{0x00000000000f59a5, "4.970246E-318"},
	{0x0000000000049da5, "1.494554E-318"},
	{0x0000000000007eaf, "1.6023E-319"},
	{0x40766b5c28f5c28f, "358.71"},
	{0x3f6f9c7d79a8628a, "0.0038588"},
	{0x40c2f6d99999999a, "9709.7"},
	{0x40b9e40000000000, "6628.0"},
	{0x3e96ca69c5ff00cb, "3.396075438609588E-7"},
	{0x4cd28015af837c17, "1.1891554219262922E62"},
	{0x97b8f45e57b503c3, "-2.136548745692163E-194"},
	{0x8000000000000000, "-0.0"},
	{0x7ff0000000000000, "Infinity"},
	{0xfff0000000000000, "-Infinity"},
	{0x7ff8000000000000, "NaN"},
}

func TestJavaDouble(t *testing.T) {
	for _, c := range javaOutputs {
		f := math.Float64frombits(c.bits)
		if got := javaDouble(f); got != c.want {
			t.Errorf("javaDouble(%v) = %q, Java says %q", f, got, c.want)
		}
	}
	// Every output reads back as the same double.
	for _, c := range javaOutputs {
		f := math.Float64frombits(c.bits)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		back, err := strconv.ParseFloat(javaDouble(f), 64)
		if err != nil || back != f {
			t.Errorf("%q does not read back as %v (%v)", javaDouble(f), f, err)
		}
	}
}

func TestJavaNumber(t *testing.T) {
	cases := map[string]string{
		"0": "0", "-0": "0", "-0.0": "0", "0e-500": "0", "1": "1", "1.0": "1", "1.000": "1",
		"1e2": "100", "1E2": "100", "1.5e1": "15", "15e-1": "1.5", "2147483647": "2147483647",
		"-2147483648": "-2147483648", "2147483648": "2.147483648E9", "-2147483649": "-2.147483649E9",
		"3000000000": "3.0E9", "0.5": "0.5", "1e-7": "1.0E-7", "1e400": "Infinity", "-1e400": "-Infinity",
		"1e-400": "0.0", "123456789.5": "1.234567895E8", "100.50": "100.5", "1e9": "1000000000",
		"1e10": "1.0E10", "12345678901234567890": "1.2345678901234567E19", "0.000": "0",
		"21474836470e-1": "2147483647", "1.5e-1": "0.15",
	}
	for in, want := range cases {
		if got := javaNumber(in); got != want {
			t.Errorf("javaNumber(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestJavaDoubleAgainstJDK compares with a live JDK 19+ when one is
// installed (JDK 19 changed Double.toString to the shortest form; older
// JDKs print extra digits for about 2% of random doubles, e.g. 2.0E23 as
// 1.9999999999999998E23). It uses Java's single-file source launcher.
func TestJavaDoubleAgainstJDK(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	java := findJDK19()
	if java == "" {
		t.Skip("no JDK 19 or newer found (PATH, JAVA_HOME, /usr/lib/jvm); the table test covers known outputs")
	}
	dir := t.TempDir()
	src := `public class D { public static void main(String[] a) throws Exception {
  java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
  StringBuilder out = new StringBuilder(); String line;
  while ((line = r.readLine()) != null) out.append(Double.toString(Double.longBitsToDouble(Long.parseUnsignedLong(line, 16)))).append('\n');
  System.out.print(out); } }`
	if err := os.WriteFile(filepath.Join(dir, "D.java"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	var in bytes.Buffer
	var bits []uint64
	for i := 0; i < 20000; i++ {
		var b uint64
		switch i % 4 {
		case 0:
			b = rng.Uint64()
		case 1:
			b = math.Float64bits(rng.Float64() * math.Pow(10, float64(rng.Intn(30)-10)))
		case 2:
			b = uint64(rng.Intn(1 << 20))
		default:
			b = math.Float64bits(float64(rng.Intn(100000)) / math.Pow(10, float64(rng.Intn(8))))
		}
		bits = append(bits, b)
		fmt.Fprintf(&in, "%016x\n", b)
	}
	cmd := exec.Command(java, filepath.Join(dir, "D.java"))
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", java, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	i, bad := 0, 0
	for sc.Scan() {
		f := math.Float64frombits(bits[i])
		if got := javaDouble(f); got != sc.Text() {
			bad++
			if bad <= 10 {
				t.Errorf("%016x: javaDouble %q, JDK %q", bits[i], got, sc.Text())
			}
		}
		i++
	}
	if i != len(bits) {
		t.Fatalf("JDK printed %d lines for %d inputs", i, len(bits))
	}
	t.Logf("%d doubles compared with %s, %d differ", i, java, bad)
}

var javaVersion = regexp.MustCompile(`version "(\d+)`)

func findJDK19() string {
	candidates := []string{}
	if h := os.Getenv("JAVA_HOME"); h != "" {
		candidates = append(candidates, filepath.Join(h, "bin", "java"))
	}
	if p, err := exec.LookPath("java"); err == nil {
		candidates = append(candidates, p)
	}
	more, _ := filepath.Glob("/usr/lib/jvm/*/bin/java")
	candidates = append(candidates, more...)
	for _, c := range candidates {
		out, err := exec.Command(c, "-version").CombinedOutput()
		if err != nil {
			continue
		}
		m := javaVersion.FindSubmatch(out)
		if m == nil {
			continue
		}
		if v, _ := strconv.Atoi(string(m[1])); v >= 19 && !strings.Contains(string(out), "OpenJ9") {
			return c
		}
	}
	return ""
}
