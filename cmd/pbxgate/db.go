package main

import "context"

func runDB(ctx context.Context, c *CLI, args []string) error {
	return usagef("pbxgate help", "db: not available yet")
}

func runMigrate(ctx context.Context, c *CLI, args []string) error {
	return usagef("pbxgate help", "migrate: not available yet")
}
