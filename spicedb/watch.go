package spicedb

import (
	"strings"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/grpc"

	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// watch implements WatchService over the service's change feed.
type watch struct {
	v1.UnimplementedWatchServiceServer
	s *Server
}

// watchHeartbeat is how often a quiet watch sends a checkpoint (when the
// caller asked for checkpoints).
const watchHeartbeat = 15 * time.Second

var watchOps = map[string]v1.RelationshipUpdate_Operation{
	"create": v1.RelationshipUpdate_OPERATION_CREATE,
	"touch":  v1.RelationshipUpdate_OPERATION_TOUCH,
	"delete": v1.RelationshipUpdate_OPERATION_DELETE,
}

func (w *watch) Watch(in *v1.WatchRequest, stream grpc.ServerStreamingServer[v1.WatchResponse]) error {
	if w.s.cfg.Watch == nil {
		return service.Fail(service.ErrMethodNotAllowed, nil, "Watch is not enabled on this server")
	}
	var filters []tuple.Filter
	for _, f := range in.GetOptionalRelationshipFilters() {
		filters = append(filters, filter(f))
	}
	checkpoints := false
	for _, k := range in.GetOptionalUpdateKinds() {
		if k == v1.WatchKind_WATCH_KIND_INCLUDE_CHECKPOINTS {
			checkpoints = true
		}
	}
	last := ""
	req := service.WatchRequest{
		Since: in.GetOptionalStartCursor().GetToken(), From: "optional_start_cursor",
		Types: strings.Join(in.GetOptionalObjectTypes(), ","), Heartbeat: watchHeartbeat,
	}
	return w.s.cfg.Watch.Stream(stream.Context(), req, service.WatchSink{
		Event: func(ev wire.WatchEvent) error {
			last = ev.Token
			msg := &v1.WatchResponse{ChangesThrough: zedToken(ev.Token)}
			for _, ch := range ev.Changes {
				r, err := tuple.Parse(ch.Relationship)
				if err != nil {
					return err
				}
				if len(filters) > 0 && !matchesAny(filters, r) {
					continue
				}
				msg.Updates = append(msg.Updates, &v1.RelationshipUpdate{Operation: watchOps[ch.Op], Relationship: toRelationship(r)})
			}
			if len(msg.Updates) == 0 { // filtered out, or a suspension's revision
				if !checkpoints {
					return nil
				}
				msg.IsCheckpoint = true
			}
			return stream.Send(msg)
		},
		Flush: func() error { return nil },
		Heartbeat: func() error {
			if !checkpoints || last == "" {
				return nil
			}
			return stream.Send(&v1.WatchResponse{ChangesThrough: zedToken(last), IsCheckpoint: true})
		},
	})
}

func matchesAny(fs []tuple.Filter, r tuple.Relationship) bool {
	for _, f := range fs {
		if f.Matches(r) {
			return true
		}
	}
	return false
}
