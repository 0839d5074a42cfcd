package openapi

// The parts of an OpenAPI document that become tools, with every $ref
// resolved. Load decodes them from the document's plain JSON values
// (load.go); the rest of the document (responses, examples, servers) is
// never looked at.
//
// keyveil used to read documents with kin-openapi. It is not used any more
// because it links santhosh-tekuri/jsonschema, whose package initialisation
// compiles the meta-schema of every JSON Schema draft: 1.7 MB of
// allocations and 4-20 ms on every keyveil start, with or without an
// OpenAPI document, against a start-up target of 8 ms. These few types are
// all the conversion reads.

// pathItem is the part of an OpenAPI Path Item shared by its operations.
type pathItem struct {
	parameters []*parameter
}

// op is an OpenAPI Operation.
type op struct {
	operationID string
	summary     string
	description string
	tags        []string
	deprecated  bool
	parameters  []*parameter
	requestBody *requestBody // nil: none
	scope       string       // x-keyveil-scope
}

// parameter is an OpenAPI Parameter.
type parameter struct {
	name        string
	in          string // path, query, header or cookie
	description string
	required    bool
	deprecated  bool
	schema      *schema // nil: none (a parameter described by content)
}

// requestBody is an OpenAPI Request Body.
type requestBody struct {
	description string
	required    bool
	content     map[string]*schema // media type -> its schema (nil: none given)
	types       []string           // the keys of content, sorted
}

// securityScheme is the part of an OpenAPI Security Scheme that says where
// an apiKey goes.
type securityScheme struct {
	typ, in, name string
}

// schema is an OpenAPI Schema Object (a JSON Schema) with the keywords the
// conversion reads. A $ref'd schema is one *schema wherever it is used, so
// a recursive schema is a cycle of pointers.
type schema struct {
	always *bool // a boolean schema (3.1): true accepts anything

	types       []string // "type", a list in 3.1; nil: none given
	title       string
	description string
	format      string
	pattern     string
	deprecated  bool
	uniqueItems bool
	readOnly    bool

	multipleOf, minimum, maximum *float64
	exclusiveMinimum             bound
	exclusiveMaximum             bound
	minLength, minItems          uint64
	maxLength, maxItems          *uint64

	enum   []any
	cnst   any // "const"; nil: none (as for kin-openapi, const: null is none)
	deflt  any // "default"; nil: none
	items  *schema
	props  map[string]*schema
	req    []string
	addl   *schema // additionalProperties as a schema
	noAddl bool    // additionalProperties: false
	allOf  []*schema
	anyOf  []*schema
	oneOf  []*schema
}

// bound is exclusiveMinimum or exclusiveMaximum: a boolean in OpenAPI 3.0
// (the minimum or maximum itself is exclusive), a number in 3.1.
type bound struct {
	set   bool     // 3.0: true
	value *float64 // 3.1: the bound
}
