package workflows

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"
)

// calls records, in order, which activities and child workflows a workflow under test ran,
// each as "name detail", and on which task queue the activities ran.
type calls struct {
	mu     sync.Mutex
	list   []string
	queues map[string]string
}

func (c *calls) add(ctx context.Context, name, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, strings.TrimSpace(name+" "+detail))
	if c.queues == nil {
		c.queues = map[string]string{}
	}
	if ctx != nil && activity.IsActivity(ctx) {
		c.queues[name] = activity.GetInfo(ctx).TaskQueue
	}
}

func (c *calls) addChild(ctx workflow.Context, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, "child "+workflow.GetInfo(ctx).WorkflowExecution.ID+" "+detail)
}

// names is the recorded calls' first words (activity names, "child").
func (c *calls) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.list))
	for i, s := range c.list {
		out[i], _, _ = strings.Cut(s, " ")
	}
	return out
}

func (c *calls) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.list...)
}

// count is how many recorded calls start with name.
func (c *calls) count(name string) int {
	n := 0
	for _, s := range c.names() {
		if s == name {
			n++
		}
	}
	return n
}

func (c *calls) queue(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queues[name]
}

func (c *calls) String() string { return fmt.Sprint(c.all()) }
