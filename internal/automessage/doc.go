// Package automessage is the auto-messages of README.md, "Auto-messages": the messages a
// channel sends customers on its own.
//
// Configuration: Create and Update write AutoMessage rows; the rules each
// kind obeys (a greeting's unique path, the 60-second minimum of NO_REPLY
// and OFFLINE, non-empty contents…) are ent hooks in ent/schema, so every
// writer is held to them.
//
// Sending: the Engine is the inbox's Automation. When a customer's message
// opens a conversation it queues the channel's resent GREETING and
// schedules START; on every customer message it schedules NO_REPLY (agents
// online) or OFFLINE (nobody online); a reply cancels both. Schedules are
// durable timers (internal/timer), one per conversation and kind, each run
// sending one content and scheduling the next, in the transaction that
// deletes the timer: a restart or a dead replica neither loses nor doubles
// a message. Messages are queued with the inbox's QueueMessage, from the
// SYSTEM, so the delivery worker sends them with its retries.
package automessage
