package credentials

import (
	"fmt"
)

// LoadNamed reads a secret of keyveil's own rather than a service's key,
// such as the Redis password of --state (KEYVEIL_STATE_PASSWORD): NAME, or
// NAME_FILE naming a file that holds it, with the same checks and the same
// unset-after-reading as a service key. ok is false when neither is set.
// Errors name the variables, never the value.
func LoadNamed(env *Env, name string) (s Secret, ok bool, err error) {
	fileName := name + fileSuffix
	v, vsrc, vok := env.lookupSource(name)
	p, psrc, pok := env.lookupSource(fileName)
	switch {
	case vok && pok:
		return s, false, fmt.Errorf("%s and %s are both set; set only one of them", name, fileName)
	case !vok && !pok:
		return s, false, nil
	case pok:
		if p == "" {
			return s, false, fmt.Errorf("%s%s is empty; set it to the path of a file holding the value", fileName, env.describe(psrc))
		}
		data, err := readKeyFile(p)
		if notAPath(err) {
			return s, false, fmt.Errorf("%s%s names a file that does not exist; it must hold the path of a file containing the value, not the value itself", fileName, env.describe(psrc))
		}
		if err != nil {
			return s, false, fmt.Errorf("%s%s names %s, %v", fileName, env.describe(psrc), p, err)
		}
		v = trimNewline(data)
		if problem := checkValue(v, false); problem != "" {
			return s, false, fmt.Errorf("the file named by %s (%s) %s", fileName, p, problem)
		}
	default:
		if problem := checkValue(v, false); problem != "" {
			return s, false, fmt.Errorf("%s%s %s", name, env.describe(vsrc), problem)
		}
	}
	for _, n := range []string{name, fileName} {
		if err := env.forget(n); err != nil {
			return s, false, err
		}
	}
	return NewSecret(name, v), true, nil
}
