package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// searchData describes the synthetic data set of `yiyang bench-search`.
// Every resource is a pure function of (seed, kind, index), so a query
// generator can look at any resource without keeping the data set.
type searchData struct {
	seed          uint64
	practitioners int
	patients      int
	encPerPatient int // encounters of each patient
	observations  int
	// stamp is the lastUpdated of the first resource; resource n (in load
	// order) gets stamp + n µs.
	stamp time.Time
}

// Kinds of generated resources, in load order (references point backwards).
const (
	genPractitioner = iota
	genPatient
	genEncounter
	genObservation
	genKinds
)

var genTypes = [genKinds]string{"Practitioner", "Patient", "Encounter", "Observation"}

const patientIdentifierSystem = "urn:oid:2.16.156.10011.1.3"

// Names. A patient index is searched by name and date of birth, so the
// names must be as varied as real ones or that lookup matches more patients
// the larger the population (30 family x 30 given names, as generated
// before, made name=Li&birthdate=<year> match 1.8 patients at 1k and 8.5 at
// 10k). Family names follow their approximate national shares; given names
// are one or two syllables drawn from a weighted pool per gender, as names
// are written in pinyin, so homophone characters (伟/维/薇 "Wei", 徐/许 "Xu")
// share a spelling, as in a pinyin record.

// familyWeight is a family name with its approximate share of the
// population in hundredths of a per cent: the 100 or so most common
// surnames, homophones merged into one spelling (王/汪 Wang, 李/黎 Li, 徐/许
// Xu, ...): 91 spellings, together about 83% of the population. The rarer ones are left
// out, which makes the common ones slightly more frequent than in life, and a
// name lookup slightly less selective, not more.
type familyWeight struct {
	name   string
	weight int
}

var familyNames = []familyWeight{
	{"Wang", 742}, {"Li", 725}, {"Zhang", 631}, {"Liu", 538}, {"Chen", 453}, {"Yang", 308}, {"Huang", 223},
	{"Zhao", 222}, {"Wu", 218}, {"Zhou", 197}, {"Xu", 228}, {"Sun", 148}, {"Ma", 146}, {"Zhu", 129},
	{"Hu", 127}, {"Guo", 117}, {"He", 131}, {"Lin", 113}, {"Gao", 107}, {"Luo", 104}, {"Zheng", 100},
	{"Liang", 91}, {"Xie", 80}, {"Song", 75}, {"Tang", 85}, {"Han", 66}, {"Feng", 64}, {"Deng", 63},
	{"Cao", 62}, {"Peng", 59}, {"Zeng", 58}, {"Xiao", 57}, {"Tian", 56}, {"Dong", 53}, {"Yuan", 51},
	{"Pan", 50}, {"Yu", 97}, {"Jiang", 105}, {"Cai", 48}, {"Du", 46}, {"Ye", 45}, {"Cheng", 44},
	{"Su", 43}, {"Wei", 68}, {"Lv", 41}, {"Ding", 40}, {"Ren", 39}, {"Shen", 38}, {"Yao", 37}, {"Lu", 67},
	{"Cui", 34}, {"Zhong", 33}, {"Tan", 32}, {"Fan", 30}, {"Jin", 29}, {"Shi", 45}, {"Liao", 28},
	{"Jia", 27}, {"Xia", 27}, {"Fu", 25}, {"Fang", 25}, {"Bai", 24}, {"Zou", 24}, {"Meng", 23},
	{"Xiong", 23}, {"Qin", 35}, {"Qiu", 22}, {"Yin", 21}, {"Xue", 20}, {"Yan", 33}, {"Duan", 19},
	{"Lei", 19}, {"Hou", 18}, {"Long", 18}, {"Tao", 17}, {"Gu", 16}, {"Mao", 15}, {"Hao", 15},
	{"Gong", 15}, {"Shao", 14}, {"Wan", 14}, {"Qian", 14}, {"Dai", 12}, {"Mo", 12}, {"Kong", 12},
	{"Xiang", 11}, {"Chang", 11}, {"Wen", 11}, {"Kang", 10}, {"Niu", 10}, {"Yi", 9},
}

// givenSyllables are common syllables of given names, most common first,
// per gender; some are common to both.
var givenSyllables = [2][]string{
	{"Fang", "Li", "Mei", "Xiu", "Ying", "Lan", "Yan", "Hong", "Juan", "Xia", "Yun", "Ping", "Jing", "Min",
		"Hua", "Zhen", "Na", "Qin", "Fen", "Lian", "Yu", "Hui", "Ling", "Qiong", "Shu", "Cui", "Xiao", "Chun",
		"Yue", "Xue", "Dan", "Ting", "Qian", "Wen", "Zhu", "Ju", "Rong", "E", "Jiao", "Lin", "Yi", "Jie", "Qing",
		"Xin", "Lu", "Hai", "Yuan", "Shuang", "Wei", "Zhi", "Su", "Ning", "Lei", "Xian", "Ai", "Jin", "Feng",
		"Gui", "Yao", "Man"},
	{"Wei", "Jian", "Guo", "Ming", "Qiang", "Jun", "Hua", "Zhi", "Yong", "Hai", "Dong", "Gang", "Hong",
		"Cheng", "Bin", "Jie", "Tao", "Lei", "Bo", "Peng", "Xin", "Long", "Feng", "Wen", "De", "Fu", "Gui",
		"Rong", "Sheng", "Qing", "Chun", "Jin", "Liang", "Zhong", "Hui", "Lin", "Bao", "Shan", "Kang", "An",
		"Xiang", "Yu", "Hao", "Kai", "Tian", "Yi", "Ping", "Chao", "Jia", "Xiao", "Zhen", "Li", "Song", "Ren",
		"Shu", "Yuan", "Quan", "Wu", "Fa", "Xing"},
}

// nameTable draws from weighted names by binary search on their
// cumulative weights.
type nameTable struct {
	names []string
	cum   []int
}

func newNameTable(names []string, weights []int) nameTable {
	t := nameTable{names: names, cum: make([]int, len(names))}
	total := 0
	for i, w := range weights {
		total += w
		t.cum[i] = total
	}
	return t
}

func (t nameTable) draw(r *rand.Rand) string {
	return t.names[sort.SearchInts(t.cum, r.IntN(t.cum[len(t.cum)-1])+1)]
}

var (
	familyTable = func() nameTable {
		names, weights := make([]string, len(familyNames)), make([]int, len(familyNames))
		for i, f := range familyNames {
			names[i], weights[i] = f.name, f.weight
		}
		return newNameTable(names, weights)
	}()
	// syllableTables weigh the syllable of rank k by 1/(k+5): the most common
	// makes about 7.5% of syllables, the 60th about 1.2%.
	syllableTables = func() (ts [2]nameTable) {
		for g, pool := range givenSyllables {
			weights := make([]int, len(pool))
			for k := range pool {
				weights[k] = 100000 / (k + 5)
			}
			ts[g] = newNameTable(pool, weights)
		}
		return ts
	}()
)

// givenName is one syllable (one name in five) or two, as Fang or Jianhua.
func givenName(r *rand.Rand, gender int) string {
	t := syllableTables[gender]
	s := t.draw(r)
	if r.IntN(5) != 0 {
		s += strings.ToLower(t.draw(r))
	}
	return s
}

// obsCode is a LOINC code with the distribution of its values.
type obsCode struct {
	code, display, category, unit string
	mean, sd                      float64
	decimals                      int
}

// obsCodes are common vital signs and laboratory results, each with a UCUM unit.
var obsCodes = []obsCode{
	{"8867-4", "Heart rate", "vital-signs", "/min", 76, 12, 0},
	{"8480-6", "Systolic blood pressure", "vital-signs", "mm[Hg]", 128, 18, 0},
	{"8462-4", "Diastolic blood pressure", "vital-signs", "mm[Hg]", 80, 10, 0},
	{"29463-7", "Body weight", "vital-signs", "kg", 62, 11, 1},
	{"8302-2", "Body height", "vital-signs", "cm", 163, 8, 1},
	{"9279-1", "Respiratory rate", "vital-signs", "/min", 16, 2, 0},
	{"8310-5", "Body temperature", "vital-signs", "Cel", 36.7, 0.4, 1},
	{"2708-6", "Oxygen saturation in Arterial blood", "vital-signs", "%", 97, 1.5, 0},
	{"39156-5", "Body mass index (BMI) [Ratio]", "vital-signs", "kg/m2", 23.5, 3.5, 1},
	{"2339-0", "Glucose [Mass/volume] in Blood", "laboratory", "mg/dL", 105, 25, 0},
	{"2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "laboratory", "mg/dL", 190, 35, 0},
	{"2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "laboratory", "mg/dL", 140, 60, 0},
	{"2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "laboratory", "mg/dL", 50, 12, 0},
	{"18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay", "laboratory", "mg/dL", 115, 30, 0},
	{"4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "laboratory", "%", 6.0, 1.0, 1},
	{"2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "laboratory", "mg/dL", 0.95, 0.25, 2},
	{"718-7", "Hemoglobin [Mass/volume] in Blood", "laboratory", "g/dL", 13.5, 1.6, 1},
	{"6690-2", "Leukocytes [#/volume] in Blood by Automated count", "laboratory", "10*3/uL", 7, 2, 1},
	{"777-3", "Platelets [#/volume] in Blood by Automated count", "laboratory", "10*3/uL", 250, 60, 0},
	{"2823-3", "Potassium [Moles/volume] in Serum or Plasma", "laboratory", "mmol/L", 4.2, 0.4, 1},
}

// encounterClasses, weighted by repetition: mostly outpatient visits.
var encounterClasses = []string{"AMB", "AMB", "AMB", "AMB", "AMB", "AMB", "IMP", "IMP", "EMER", "HH"}

var encounterClassDisplay = map[string]string{"AMB": "ambulatory", "IMP": "inpatient encounter", "EMER": "emergency", "HH": "home health"}

// The observed period: five years, local time of Meizhou (UTC+8).
var (
	cst        = time.FixedZone("CST", 8*3600)
	genEpoch   = time.Date(2021, 1, 1, 0, 0, 0, 0, cst)
	genSpanSec = int64(5 * 365 * 24 * 3600)
)

func newSearchData(seed uint64, observations, patients, practitioners int) searchData {
	return searchData{seed: seed, practitioners: max(practitioners, 1), patients: max(patients, 1), encPerPatient: 5,
		observations: observations, stamp: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// count is the number of resources of a kind.
func (d searchData) count(kind int) int {
	switch kind {
	case genPractitioner:
		return d.practitioners
	case genPatient:
		return d.patients
	case genEncounter:
		return d.patients * d.encPerPatient
	}
	return d.observations
}

func (d searchData) total() int {
	n := 0
	for k := range genKinds {
		n += d.count(k)
	}
	return n
}

// seq is the load-order number of resource i of kind, which sets its lastUpdated.
func (d searchData) seq(kind, i int) int {
	for k := range kind {
		i += d.count(k)
	}
	return i
}

func (d searchData) rng(kind, i int) *rand.Rand {
	return rand.New(rand.NewPCG(d.seed, uint64(kind)<<56|uint64(i)))
}

func genID(kind, i int) string {
	switch kind {
	case genPractitioner:
		return fmt.Sprintf("pr%05d", i)
	case genPatient:
		return fmt.Sprintf("pt%07d", i)
	case genEncounter:
		return fmt.Sprintf("en%08d", i)
	}
	return fmt.Sprintf("ob%09d", i)
}

// person is what the generator decides about a patient or practitioner.
type person struct {
	family, given, gender string
	birth                 time.Time
}

func (d searchData) person(kind, i int) person {
	r := d.rng(kind, i)
	g := r.IntN(2)
	p := person{family: familyTable.draw(r), given: givenName(r, g), gender: [2]string{"female", "male"}[g]}
	// Elderly care: ages skew old; born 1930-2005, on any day of the year.
	jan1 := time.Date(1930+min(r.IntN(60)+r.IntN(30), 75), 1, 1, 0, 0, 0, 0, time.UTC)
	days := int(jan1.AddDate(1, 0, 0).Sub(jan1) / (24 * time.Hour))
	p.birth = jan1.AddDate(0, 0, r.IntN(days))
	return p
}

// patientIdentifier is the unique identifier value of patient i.
func patientIdentifier(i int) string { return fmt.Sprintf("MZ%010d", 4400000000+i) }

// encounter is what the generator decides about an encounter.
type encounter struct {
	patient, practitioner int
	class                 string
	start, end            time.Time
}

func (d searchData) encounter(i int) encounter {
	r := d.rng(genEncounter, i)
	e := encounter{patient: i / d.encPerPatient, practitioner: r.IntN(d.practitioners),
		class: encounterClasses[r.IntN(len(encounterClasses))]}
	e.start = genEpoch.Add(time.Duration(r.Int64N(genSpanSec)) * time.Second).Truncate(time.Minute)
	dur := time.Duration(15+r.IntN(60)) * time.Minute
	if e.class == "IMP" {
		dur = time.Duration(1+r.IntN(10)) * 24 * time.Hour
	}
	e.end = e.start.Add(dur)
	return e
}

// observation is what the generator decides about an observation.
type observation struct {
	patient, encounter int
	code               *obsCode
	when               time.Time
	value              float64
}

// observation i belongs to patient i mod patients and to one of that
// patient's encounters, during it.
func (d searchData) observation(i int) observation {
	r := d.rng(genObservation, i)
	o := observation{patient: i % d.patients, code: &obsCodes[r.IntN(len(obsCodes))]}
	o.encounter = o.patient*d.encPerPatient + r.IntN(d.encPerPatient)
	e := d.encounter(o.encounter)
	o.when = e.start.Add(time.Duration(r.Int64N(int64(e.end.Sub(e.start))/int64(time.Second)+1)) * time.Second)
	v := math.Max(o.code.mean+r.NormFloat64()*o.code.sd, o.code.mean/10)
	p := math.Pow10(o.code.decimals)
	o.value = math.Round(v*p) / p
	return o
}

// resource returns the canonical JSON of resource i of kind, as the store
// would hold it after a create: id and meta set by resources.Stamp.
func (d searchData) resource(kind, i int) (typ, id string, data []byte, err error) {
	typ, id = genTypes[kind], genID(kind, i)
	var b []byte
	switch kind {
	case genPractitioner:
		b = d.practitionerJSON(i)
	case genPatient:
		b = d.patientJSON(i)
	case genEncounter:
		b = d.encounterJSON(i)
	default:
		b = d.observationJSON(i)
	}
	data, err = resources.Stamp(b, id, 1, d.lastUpdated(kind, i))
	return typ, id, data, err
}

func (d searchData) lastUpdated(kind, i int) time.Time {
	return d.stamp.Add(time.Duration(d.seq(kind, i)) * time.Microsecond)
}

func (d searchData) practitionerJSON(i int) []byte {
	p := d.person(genPractitioner, i)
	return fmt.Appendf(nil, `{"resourceType":"Practitioner",`+
		`"identifier":[{"use":"official","system":"urn:oid:2.16.156.10011.1.4","value":"YS%06d"}],"active":true,`+
		`"name":[{"use":"official","text":"%s %s","family":"%s","given":["%s"],"prefix":["Dr."]}],`+
		`"telecom":[{"system":"phone","value":"+86 753 2%06d","use":"work"}],"gender":"%s"}`,
		i, p.family, p.given, p.family, p.given, i, p.gender)
}

func (d searchData) patientJSON(i int) []byte {
	p := d.person(genPatient, i)
	r := d.rng(genKinds, i) // a stream of its own for the other details
	return fmt.Appendf(nil, `{"resourceType":"Patient",`+
		`"identifier":[{"use":"official","system":%q,"value":%q}],"active":true,`+
		`"name":[{"use":"official","text":"%s %s","family":"%s","given":["%s"]}],`+
		`"telecom":[{"system":"phone","value":"+86 13%09d","use":"mobile"}],`+
		`"gender":"%s","birthDate":"%s",`+
		`"address":[{"use":"home","line":["%d Jiangnan Road"],"city":"Meizhou","district":"Meijiang","state":"Guangdong","postalCode":"514000","country":"CN"}]}`,
		patientIdentifierSystem, patientIdentifier(i), p.family, p.given, p.family, p.given, r.IntN(1e9),
		p.gender, p.birth.Format(time.DateOnly), 1+r.IntN(300))
}

func (d searchData) encounterJSON(i int) []byte {
	e := d.encounter(i)
	return fmt.Appendf(nil, `{"resourceType":"Encounter","status":"finished",`+
		`"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"%s","display":"%s"},`+
		`"subject":{"reference":"Patient/%s"},`+
		`"participant":[{"type":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"ATND","display":"attender"}]}],"individual":{"reference":"Practitioner/%s"}}],`+
		`"period":{"start":"%s","end":"%s"}}`,
		e.class, encounterClassDisplay[e.class], genID(genPatient, e.patient), genID(genPractitioner, e.practitioner),
		e.start.Format(time.RFC3339), e.end.Format(time.RFC3339))
}

func (d searchData) observationJSON(i int) []byte {
	o := d.observation(i)
	c := o.code
	catDisplay := "Vital Signs"
	if c.category == "laboratory" {
		catDisplay = "Laboratory"
	}
	return fmt.Appendf(nil, `{"resourceType":"Observation","status":"final",`+
		`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"%s","display":"%s"}]}],`+
		`"code":{"coding":[{"system":"http://loinc.org","code":"%s","display":%q}],"text":%q},`+
		`"subject":{"reference":"Patient/%s"},"encounter":{"reference":"Encounter/%s"},`+
		`"effectiveDateTime":"%s",`+
		`"valueQuantity":{"value":%s,"unit":%q,"system":"http://unitsofmeasure.org","code":%q}}`,
		c.category, catDisplay, c.code, c.display, c.display, genID(genPatient, o.patient), genID(genEncounter, o.encounter),
		o.when.Format(time.RFC3339), strconv.FormatFloat(o.value, 'f', c.decimals, 64), c.unit, c.unit)
}
