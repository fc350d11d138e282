package operations

import (
	"encoding/json"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// parameterResource returns the resource held by the named parameter of a
// Parameters resource.
func parameterResource(parameters []byte, name string) ([]byte, error) {
	var p struct {
		Parameter []struct {
			Name     string          `json:"name"`
			Resource json.RawMessage `json:"resource"`
		} `json:"parameter"`
	}
	if err := json.Unmarshal(parameters, &p); err != nil {
		return nil, resources.Invalid("structure", "Parameters", "Parameters cannot be read: "+err.Error())
	}
	for _, pp := range p.Parameter {
		if pp.Name == name && len(pp.Resource) > 0 {
			return pp.Resource, nil
		}
	}
	return nil, resources.Invalid("required", "Parameters.parameter", "no parameter named "+name+" with a resource")
}
