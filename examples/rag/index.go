package main

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"unicode"
)

// Index is a small in-memory vector index: each document is a bag of words
// weighted by tf-idf, and a query's hits are ranked by cosine similarity. It
// stands in for a vector database; the filtering does not depend on how the
// candidates are found.
type Index struct {
	docs []indexed
	idf  map[string]float64
}

type indexed struct {
	doc  Doc
	vec  map[string]float64
	norm float64
}

// Doc is a document of the corpus.
type Doc struct {
	ID   string // the Trellis object id: document:<ID>
	Text string
}

// Hit is a search result.
type Hit struct {
	ID    string
	Score float64
	Text  string
}

// NewIndex indexes docs.
func NewIndex(docs []Doc) *Index {
	df := map[string]int{}
	bags := make([]map[string]float64, len(docs))
	for i, d := range docs {
		bags[i] = bagOfWords(d.Text)
		for w := range bags[i] {
			df[w]++
		}
	}
	ix := &Index{idf: make(map[string]float64, len(df))}
	for w, n := range df {
		ix.idf[w] = math.Log(float64(1+len(docs)) / float64(1+n))
	}
	for i, d := range docs {
		vec := ix.weigh(bags[i])
		ix.docs = append(ix.docs, indexed{doc: d, vec: vec, norm: norm(vec)})
	}
	return ix
}

// Search returns the k documents most similar to query (fewer when fewer
// share a word with it), best first; ties go to the smaller id.
func (ix *Index) Search(query string, k int) []Hit {
	q := ix.weigh(bagOfWords(query))
	qn := norm(q)
	if qn == 0 {
		return nil
	}
	var hits []Hit
	for _, d := range ix.docs {
		var dot float64
		for w, x := range q {
			dot += x * d.vec[w]
		}
		if dot > 0 {
			hits = append(hits, Hit{ID: d.doc.ID, Score: dot / (qn * d.norm), Text: d.doc.Text})
		}
	}
	slices.SortFunc(hits, func(a, b Hit) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.ID, b.ID))
	})
	return hits[:min(k, len(hits))]
}

// weigh turns term counts into tf-idf weights (words the corpus lacks drop
// out).
func (ix *Index) weigh(bag map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(bag))
	for w, tf := range bag {
		if idf := ix.idf[w]; idf > 0 {
			out[w] = tf * idf
		}
	}
	return out
}

// bagOfWords counts the lower-cased words of text, without stop words.
func bagOfWords(text string) map[string]float64 {
	bag := map[string]float64{}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if !stopWords[w] {
			bag[w]++
		}
	}
	return bag
}

var stopWords = map[string]bool{"a": true, "an": true, "and": true, "for": true, "in": true, "of": true, "on": true, "the": true, "to": true, "with": true}

func norm(v map[string]float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}
