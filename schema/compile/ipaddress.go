package compile

import (
	"fmt"
	"net/netip"
	"reflect"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// ipAddressCELType is the CEL type of "ipaddress" parameters: an opaque value
// with one member function, in_cidr(string) bool.
var ipAddressCELType = cel.OpaqueType("ipaddress")

// ipAddress is an IP address as a CEL value.
type ipAddress struct{ addr netip.Addr }

var _ ref.Val = ipAddress{}

func (a ipAddress) ConvertToNative(t reflect.Type) (any, error) {
	switch t {
	case reflect.TypeOf(netip.Addr{}):
		return a.addr, nil
	case reflect.TypeOf(""):
		return a.addr.String(), nil
	}
	return nil, fmt.Errorf("ipaddress cannot be converted to %v", t)
}

func (a ipAddress) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.TypeType:
		return ipAddressCELType
	case types.StringType:
		return types.String(a.addr.String())
	}
	return types.NewErr("ipaddress cannot be converted to %s", t.TypeName())
}

func (a ipAddress) Equal(other ref.Val) ref.Val {
	o, ok := other.(ipAddress)
	return types.Bool(ok && o.addr == a.addr)
}

func (a ipAddress) Type() ref.Type { return ipAddressCELType }
func (a ipAddress) Value() any     { return a.addr }

// ipAddressLib declares the ipaddress type's function.
func ipAddressLib() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function("in_cidr",
			cel.MemberOverload("ipaddress_in_cidr_string",
				[]*cel.Type{ipAddressCELType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(inCIDR))),
	}
}

func inCIDR(lhs, rhs ref.Val) ref.Val {
	ip, ok := lhs.(ipAddress)
	if !ok {
		return types.NewErr("in_cidr: receiver is %s, not an ipaddress", lhs.Type().TypeName())
	}
	s, ok := rhs.(types.String)
	if !ok {
		return types.NewErr("in_cidr: argument is %s, not a string", rhs.Type().TypeName())
	}
	prefix, err := netip.ParsePrefix(string(s))
	if err != nil {
		return types.NewErr("in_cidr: %q is not a CIDR block like \"10.0.0.0/8\"", string(s))
	}
	return types.Bool(prefix.Contains(ip.addr.Unmap()) || prefix.Contains(ip.addr))
}
