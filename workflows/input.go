package workflows

import (
	"encoding/json"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// strictInputChange gates strict decoding of public inputs: runs recorded before it
// decoded their input leniently (the SDK's json.Unmarshal into the input struct), and keep
// doing so on replay.
const strictInputChange = "strict-input"

// strictInput makes a public workflow take its input as raw JSON and decode it strictly
// (protocol.DecodeStrict): an unknown field, a value of the wrong JSON type or a name
// SQL Server or a script cannot take safely (control characters, line breaks, more than
// 128 characters) fails the run at once with InvalidInput naming the field, before
// anything runs. The SDK would otherwise ignore unknown fields and fail a type mismatch
// with a raw decode error. Decoding is pure, so the workflow stays deterministic; the
// workflow's own parameter type is unchanged, so children, schedules and the starter
// send the same JSON as before.
func strictInput[In any, Out any](fn func(workflow.Context, In) (Out, error)) func(workflow.Context, json.RawMessage) (Out, error) {
	return func(ctx workflow.Context, raw json.RawMessage) (Out, error) {
		var in In
		var zero Out
		if workflow.GetVersion(ctx, strictInputChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			if len(raw) > 0 {
				if err := json.Unmarshal(raw, &in); err != nil {
					return zero, err
				}
			}
			return fn(ctx, in)
		}
		if err := protocol.DecodeStrict(raw, &in); err != nil {
			return zero, temporal.NewNonRetryableApplicationError("invalid input: "+err.Error(), protocol.ErrInvalidInput, nil)
		}
		if v, ok := any(in).(interface{ ValidateNames() error }); ok {
			if err := v.ValidateNames(); err != nil {
				return zero, temporal.NewNonRetryableApplicationError(err.Error(), protocol.ErrInvalidInput, nil)
			}
		}
		return fn(ctx, in)
	}
}

// strictInputOnly is strictInput for a workflow without a result.
func strictInputOnly[In any](fn func(workflow.Context, In) error) func(workflow.Context, json.RawMessage) error {
	wrapped := strictInput(func(ctx workflow.Context, in In) (struct{}, error) { return struct{}{}, fn(ctx, in) })
	return func(ctx workflow.Context, raw json.RawMessage) error {
		_, err := wrapped(ctx, raw)
		return err
	}
}
