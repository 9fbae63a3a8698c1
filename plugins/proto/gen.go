// Package ipbenchpb is the generated code of the plugin protocol
// (ipbench.proto). Never edit the .pb.go files: run `make proto`.
package ipbenchpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative ipbench.proto
