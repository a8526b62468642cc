package conformance

// The payloads of categories 12 and 13. Autobahn ships five files (a JSON
// document, a 512x512 grey-scale bitmap, Goethe's Faust as plain text, an
// HTML page and a PDF); the suite makes data of the same kinds and sizes
// from a fixed seed, so every run sends the same bytes: repetitive text
// that compresses well, noisy pixels that compress a little, and the
// mostly incompressible streams of a PDF.

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
)

// pmdDataSets are the data of subcategories 12.1 to 12.5, in Autobahn's
// order.
func pmdDataSets() []*pmdData {
	return []*pmdData{pmdJSON(), pmdLena(), pmdFaust(), pmdHTML(), pmdPDF()}
}

// lazily makes a data set once.
func lazily(size int, make func(r *rand.Rand, size int) []byte, seed uint64) func() []byte {
	var once sync.Once
	var b []byte
	return func() []byte {
		once.Do(func() {
			b = make(rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), size)
			if len(b) != size {
				panic(fmt.Sprintf("data set of %d bytes, want %d", len(b), size))
			}
		})
		return b
	}
}

var (
	jsonData  = &pmdData{name: "json", desc: "a large JSON document", bytes: lazily(194056, makeJSON, 1)}
	lenaData  = &pmdData{name: "bitmap", desc: "a 512x512 grey-scale bitmap", binary: true, bytes: lazily(263222, makeBitmap, 2)}
	faustData = &pmdData{name: "faust", desc: "human-readable German text", binary: true, bytes: lazily(222218, makeGerman, 3)}
	htmlData  = &pmdData{name: "html", desc: "a large HTML page", bytes: lazily(263527, makeHTML, 4)}
	pdfData   = &pmdData{name: "pdf", desc: "a PDF of mostly compressed streams", binary: true, bytes: lazily(1042328, makePDF, 5)}
)

func pmdJSON() *pmdData  { return jsonData }
func pmdLena() *pmdData  { return lenaData }
func pmdFaust() *pmdData { return faustData }
func pmdHTML() *pmdData  { return htmlData }
func pmdPDF() *pmdData   { return pdfData }

// fit cuts or pads (repeating its start) b to size bytes.
func fit(b []byte, size int) []byte {
	for len(b) < size {
		b = append(b, b[:min(len(b), size-len(b))]...)
	}
	return b[:size]
}

func pick(r *rand.Rand, words []string) string { return words[r.IntN(len(words))] }

var (
	firstNames = []string{"Alice", "Bruno", "Clara", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal", "Lena", "Marta", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sven", "Tamar"}
	lastNames  = []string{"Adler", "Berger", "Castillo", "Dubois", "Eriksen", "Fischer", "Gallo", "Horvat", "Ivanov", "Jensen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Ortega", "Petrov"}
	cities     = []string{"Springfield", "Riverton", "Lakeside", "Fairview", "Georgetown", "Kingston", "Salem", "Milton", "Ashland", "Clinton"}
	colors     = []string{"blue", "brown", "green", "grey", "hazel"}
	fruits     = []string{"apple", "banana", "strawberry", "cherry", "mango", "plum"}
	latin      = strings.Fields("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum")
)

func sentence(r *rand.Rand, words []string, lo, hi int) string {
	n := lo + r.IntN(hi-lo+1)
	w := make([]string, n)
	for i := range w {
		w[i] = pick(r, words)
	}
	s := strings.Join(w, " ")
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// makeJSON writes an indented array of records, as generated test data
// usually looks: ASCII only, so that any slice of it is valid UTF-8.
func makeJSON(r *rand.Rand, size int) []byte {
	var sb strings.Builder
	sb.WriteString("[\n")
	for i := 0; sb.Len() < size; i++ {
		if i > 0 {
			sb.WriteString(",\n")
		}
		first, last := pick(r, firstNames), pick(r, lastNames)
		fmt.Fprintf(&sb, "  {\n    \"_id\": \"%016x%08x\",\n    \"index\": %d,\n    \"guid\": \"%08x-%04x-%04x-%04x-%012x\",\n", r.Uint64(), r.Uint32(), i, r.Uint32(), r.IntN(1<<16), r.IntN(1<<16), r.IntN(1<<16), r.Uint64()&(1<<48-1))
		fmt.Fprintf(&sb, "    \"isActive\": %v,\n    \"balance\": \"$%d,%03d.%02d\",\n    \"picture\": \"http://placehold.it/32x32\",\n    \"age\": %d,\n    \"eyeColor\": %q,\n", r.IntN(2) == 1, r.IntN(4), r.IntN(1000), r.IntN(100), 20+r.IntN(50), pick(r, colors))
		fmt.Fprintf(&sb, "    \"name\": \"%s %s\",\n    \"email\": \"%s.%s@example.com\",\n    \"phone\": \"+1 (%03d) %03d-%04d\",\n", first, last, strings.ToLower(first), strings.ToLower(last), r.IntN(1000), r.IntN(1000), r.IntN(10000))
		fmt.Fprintf(&sb, "    \"address\": \"%d %s Street, %s, %05d\",\n    \"about\": %q,\n", r.IntN(999)+1, pick(r, lastNames), pick(r, cities), r.IntN(100000), sentence(r, latin, 12, 30)+" "+sentence(r, latin, 8, 20))
		fmt.Fprintf(&sb, "    \"registered\": \"20%02d-%02d-%02dT%02d:%02d:%02d -01:00\",\n    \"latitude\": %.6f,\n    \"longitude\": %.6f,\n", r.IntN(25), 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.Float64()*180-90, r.Float64()*360-180)
		sb.WriteString("    \"tags\": [")
		for j := range 3 + r.IntN(5) {
			if j > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "%q", pick(r, latin))
		}
		sb.WriteString("],\n    \"friends\": [\n")
		for j := range 3 {
			fmt.Fprintf(&sb, "      {\n        \"id\": %d,\n        \"name\": \"%s %s\"\n      }", j, pick(r, firstNames), pick(r, lastNames))
			if j < 2 {
				sb.WriteString(",")
			}
			sb.WriteString("\n")
		}
		fmt.Fprintf(&sb, "    ],\n    \"greeting\": \"Hello, %s! You have %d unread messages.\",\n    \"favoriteFruit\": %q\n  }", first, r.IntN(20), pick(r, fruits))
	}
	sb.WriteString("\n]\n")
	return fit([]byte(sb.String()), size)
}

// makeBitmap writes a BMP of 512x512 pixels with a 256-entry grey
// palette: smooth shapes with edges and sensor-like noise, 263222 bytes.
func makeBitmap(r *rand.Rand, size int) []byte {
	const w, h = 512, 512
	b := make([]byte, 0, size)
	b = append(b, 'B', 'M')
	b = binary.LittleEndian.AppendUint32(b, uint32(size))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 14+40+1024)
	b = binary.LittleEndian.AppendUint32(b, 40)
	b = binary.LittleEndian.AppendUint32(b, w)
	b = binary.LittleEndian.AppendUint32(b, h)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 8)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, w*h)
	b = binary.LittleEndian.AppendUint32(b, 2835)
	b = binary.LittleEndian.AppendUint32(b, 2835)
	b = binary.LittleEndian.AppendUint32(b, 256)
	b = binary.LittleEndian.AppendUint32(b, 0)
	for i := range 256 {
		b = append(b, byte(i), byte(i), byte(i), 0)
	}
	for y := range h {
		for x := range w {
			fx, fy := float64(x), float64(y)
			v := 110 + 50*math.Sin(fx/37)*math.Cos(fy/23) + 30*math.Sin((fx+2*fy)/61)
			if (fx-300)*(fx-300)+(fy-220)*(fy-220) < 90*90 {
				v += 60
			}
			if x > 60 && x < 180 && y > 300 && y < 460 {
				v -= 45
			}
			v += float64(r.IntN(13) - 6)
			b = append(b, byte(min(max(v, 0), 255)))
		}
	}
	return b
}

var germanWords = strings.Fields("und der die das ich du er sie es nicht mich mir dich dir ein eine ist war wird hat mit von zu auf in im an dem den des so wie was wo nur noch schon auch doch wohl ach da nun hier dort Geist Welt Herz Nacht Tag Gott Teufel Himmel Erde Blut Seele Liebe Tod Leben Zeit Kraft Natur Buch Wissen Mädchen Fräulein Knabe Bürger Schüler Herr Frau Mutter Bruder schön süß groß klein müde froh alt jung heiß kühl fühlen sehen hören sagen gehen kommen bleiben müssen können wollen mögen träumen schweben Glück Tränen Höhle Straße Bücher Größe Gefühl Freude Schmerz Wonne Flamme Wald Quelle Mond Sterne Lüfte Brüder Gärten Schätze über unter für gegen ohne durch zwischen während hinüber")

var faustSpeakers = []string{"FAUST", "MEPHISTOPHELES", "MARGARETE", "WAGNER", "MARTHE", "CHOR DER ENGEL", "SCHÜLER", "VALENTIN", "HEXE", "GEIST"}

// makeGerman writes verse drama in German (UTF-8 with umlauts and ß),
// with a plain-text preamble: human-readable text, sent as binary as
// Autobahn does.
func makeGerman(r *rand.Rand, size int) []byte {
	var sb strings.Builder
	sb.WriteString("The Project Gutenberg-like EBook: a play in verse, generated for a conformance test.\r\n\r\nThis text is made up word by word; it only resembles a verse drama.\r\n\r\n\r\n")
	for sb.Len() < size {
		fmt.Fprintf(&sb, "\r\n%s:\r\n", pick(r, faustSpeakers))
		if r.IntN(6) == 0 {
			fmt.Fprintf(&sb, "(%s)\r\n", sentence(r, germanWords, 3, 7))
		}
		for range 2 + r.IntN(8) {
			line := sentence(r, germanWords, 4, 9)
			switch r.IntN(5) {
			case 0:
				line = strings.TrimSuffix(line, ".") + "!"
			case 1:
				line = strings.TrimSuffix(line, ".") + ","
			}
			sb.WriteString(line)
			sb.WriteString("\r\n")
		}
	}
	return fit([]byte(sb.String()), size)
}

// makeHTML writes a long page of navigation lists, tables and
// paragraphs with links: ASCII only.
func makeHTML(r *rand.Rand, size int) []byte {
	var sb strings.Builder
	sb.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  <title>Archive of the Springfield Gazette</title>\n  <link rel=\"stylesheet\" href=\"/static/css/main.css\">\n  <style>\n    body { font-family: Georgia, serif; margin: 0 auto; max-width: 60em; }\n    .nav li { display: inline; padding: 0 1em; }\n    table.data td { border: 1px solid #ccc; padding: 2px 6px; }\n  </style>\n</head>\n<body>\n")
	for section := 0; sb.Len() < size; section++ {
		fmt.Fprintf(&sb, "<div class=\"section\" id=\"s%d\">\n  <ul class=\"nav\">\n", section)
		for range 5 {
			word := pick(r, latin)
			fmt.Fprintf(&sb, "    <li><a href=\"/archive/%s/%d.html\" title=\"%s\">%s</a></li>\n", word, r.IntN(1000), word, strings.ToUpper(word[:1])+word[1:])
		}
		fmt.Fprintf(&sb, "  </ul>\n  <h2>%s</h2>\n", sentence(r, latin, 3, 6))
		for range 2 + r.IntN(3) {
			fmt.Fprintf(&sb, "  <p class=\"article\">%s <a href=\"https://example.com/%s?id=%d\">%s</a> %s</p>\n", sentence(r, latin, 15, 40), pick(r, latin), r.IntN(100000), pick(r, latin), sentence(r, latin, 10, 25))
		}
		sb.WriteString("  <table class=\"data\">\n    <tr><th>Name</th><th>City</th><th>Amount</th><th>Date</th></tr>\n")
		for range 3 + r.IntN(6) {
			fmt.Fprintf(&sb, "    <tr><td>%s %s</td><td>%s</td><td>%d.%02d</td><td>19%02d-%02d-%02d</td></tr>\n", pick(r, firstNames), pick(r, lastNames), pick(r, cities), r.IntN(10000), r.IntN(100), r.IntN(100), 1+r.IntN(12), 1+r.IntN(28))
		}
		sb.WriteString("  </table>\n</div>\n")
	}
	sb.WriteString("</body>\n</html>\n")
	return fit([]byte(sb.String()), size)
}

// makePDF writes a PDF-like file: a few text objects and many stream
// objects whose contents are random bytes, as already-compressed streams
// look, then a cross-reference table.
func makePDF(r *rand.Rand, size int) []byte {
	b := []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	var offsets []int
	obj := func(body []byte) {
		offsets = append(offsets, len(b))
		b = fmt.Appendf(b, "%d 0 obj\n", len(offsets))
		b = append(b, body...)
		b = append(b, "\nendobj\n"...)
	}
	obj([]byte("<< /Type /Catalog /Pages 2 0 R >>"))
	obj([]byte("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"))
	obj([]byte("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"))
	for len(b) < size-4096 {
		n := 2000 + r.IntN(30000)
		body := fmt.Appendf(nil, "<< /Length %d /Filter /FlateDecode >>\nstream\n", n)
		for range n {
			body = append(body, byte(r.Uint32()))
		}
		body = append(body, "\nendstream"...)
		obj(body)
		if r.IntN(3) == 0 {
			obj(fmt.Appendf(nil, "<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>", pick(r, []string{"Helvetica", "Times-Roman", "Courier"})))
		}
	}
	xref := len(b)
	b = fmt.Appendf(b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		b = fmt.Appendf(b, "%010d 00000 n \n", off)
	}
	b = fmt.Appendf(b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return fit(b, size)
}
