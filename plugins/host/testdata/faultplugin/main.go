// Command faultplugin is a solver plugin that misbehaves on purpose, for the
// fault tests of plugins/host. IPBENCH_FAULT picks the fault:
//
//	ok            answers correctly (zeros)
//	wrong-cookie  serves with another magic cookie
//	wrong-version serves protocol version 99
//	shape         returns samples of the wrong shape
//	nan           returns NaN in a sample
//	error         returns an error
//	panic         panics inside Solve (in the handler goroutine: the process dies)
//	hang          never answers
//	crash-once    exits during the first Solve of the test, then answers
//	hang-once     hangs during the first Solve of the test, then answers
//
// The "-once" faults remember their first call in the file IPBENCH_FAULT_MARK.
package main

import (
	"context"
	"errors"
	"math"
	"os"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/ipbench/ipbench/plugins/proto"
	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/wire"
)

var fault = os.Getenv("IPBENCH_FAULT")

type server struct {
	pb.UnimplementedSolverServer
}

func (server) Info(context.Context, *pb.Empty) (*pb.InfoResponse, error) {
	return sdk.InfoProto(sdk.Info{Name: "fault", Version: "0.0.1", NFEGrid: []int{1}}), nil
}

// first reports whether this is the first call of a "-once" fault.
func first() bool {
	mark := os.Getenv("IPBENCH_FAULT_MARK")
	if _, err := os.Stat(mark); err == nil {
		return false
	}
	os.WriteFile(mark, []byte("x"), 0o644)
	return true
}

func (server) Solve(ctx context.Context, req *pb.SolveRequest) (*pb.SolveResponse, error) {
	n, d := len(req.Seeds), int(req.D)
	rows := sdk.NewRows(n, d)
	switch fault {
	case "shape":
		rows = sdk.NewRows(n, d+1)
	case "nan":
		rows[n-1][0] = math.NaN()
	case "error":
		return nil, errors.New("this solver does not like the problem")
	case "panic":
		go panic("fault plugin panics")
		time.Sleep(time.Minute)
	case "hang":
		select {}
	case "crash-once":
		if first() {
			os.Exit(3)
		}
	case "hang-once":
		if first() {
			select {}
		}
	}
	return &pb.SolveResponse{Samples: wire.Rows(rows)}, nil
}

type solverPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (solverPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterSolverServer(s, server{})
	return nil
}

func (solverPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("no client side")
}

func main() {
	hs := wire.Handshake
	version := wire.ProtocolVersion
	switch fault {
	case "wrong-cookie":
		hs.MagicCookieValue = "not-the-cookie"
	case "wrong-version":
		version = 99
		hs.ProtocolVersion = 99
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  hs,
		VersionedPlugins: map[int]plugin.PluginSet{version: {wire.SolverPluginName: solverPlugin{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
