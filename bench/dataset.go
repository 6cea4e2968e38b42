package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/message"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/account"
	"github.com/dakenh/dakenh/internal/auth"
	crm "github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/inbox"
	"github.com/dakenh/dakenh/internal/tenancy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// The data set: one organization with an owner, agents, SHARED Zalo OAs and
// Facebook pages, and for every customer one identity and one conversation
// of perConversation messages, alternating customer and agent.
const (
	customers       = 20_000
	perConversation = 10 // 200,000 messages
	agents          = 10
	ownerEmail      = "owner@bench.dakenh.vn"
	// datasetVersion changes when the data set does, so a database loaded
	// by an older harness is reloaded.
	datasetVersion = "1"
)

// Vietnamese name parts, as in the server's own benchmarks.
var (
	familyNames = []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"}
	middleNames = []string{"Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quang"}
	givenNames  = []string{"An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hạnh", "Hương", "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Phong", "Phúc", "Quân", "Sơn", "Thảo", "Trang", "Tuấn", "Vy", "Yến", "Đạt"}
	texts       = []string{
		"Shop ơi cho em hỏi giá bó hoa hồng đỏ 20 bông ạ",
		"Dạ chị ơi bó 20 bông giá 450.000đ, shop giao trong ngày ạ",
		"Giao đến quận 3 thì phí ship bao nhiêu vậy shop?",
		"Dạ nội thành miễn phí giao hàng cho đơn từ 300.000đ ạ",
		"Ok em đặt một bó, giao chiều nay được không?",
		"Dạ được ạ, chị cho em xin địa chỉ và số điện thoại người nhận nhé",
		"123 Võ Văn Tần, phường 6, quận 3, số 0903 123 456",
		"Shop đã lên đơn, tổng 450.000đ, chị chuyển khoản hay trả tiền mặt ạ?",
		"Mình chuyển khoản nhé, gửi mình số tài khoản",
		"Dạ shop cảm ơn chị, hoa sẽ đến trước 17 giờ ạ",
	}
)

// dataset is a loaded data set: its organization and the owner's token.
type dataset struct {
	orgID gid.ID
	token string
}

// datasetKey marks a database that holds the data set. A database loaded
// under older migrations is brought up to date by dakenh's own start-up
// (migrations, and the backfills that go with them), as a production
// database would be; one that dakenh cannot migrate is loaded anew.
const datasetKey = "dakenh-bench dataset " + datasetVersion

// postgresData makes sure the benchmark database holds the data set,
// loading it into a fresh database when it does not, and returns it with a
// new session of its owner.
func (h *harness) postgresData(ctx context.Context) (*dataset, error) {
	var comment sql.NullString
	err := h.admin.QueryRowContext(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, h.o.dbName).Scan(&comment)
	fresh := h.o.reload || errors.Is(err, sql.ErrNoRows) || comment.String != datasetKey
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	ds, err := h.openPostgresData(ctx, fresh)
	if err != nil && !fresh {
		fmt.Fprintf(os.Stderr, "the benchmark database cannot be used (%v); loading it anew\n", err)
		ds, err = h.openPostgresData(ctx, true)
	}
	return ds, err
}

// openPostgresData opens the benchmark database, recreating and loading
// it when fresh.
func (h *harness) openPostgresData(ctx context.Context, fresh bool) (*dataset, error) {
	if fresh {
		fmt.Fprintf(os.Stderr, "creating database %s\n", h.o.dbName)
		if _, err := h.admin.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, h.o.dbName)); err != nil {
			return nil, err
		}
		if _, err := h.admin.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %q`, h.o.dbName)); err != nil {
			return nil, err
		}
	}
	db, err := database.Open(ctx, database.Config{URL: h.dbURL})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	ds, err := h.data(ctx, db, fresh)
	if err != nil {
		return nil, err
	}
	if fresh {
		fmt.Fprintln(os.Stderr, "VACUUM ANALYZE")
		if _, err := db.SQL.ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
			return nil, err
		}
		if _, err := h.admin.ExecContext(ctx, fmt.Sprintf(`COMMENT ON DATABASE %q IS '%s'`, h.o.dbName, datasetKey)); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// sqliteData does the same for an embedded database in the cache
// directory, which the server then opens (it holds the directory's lock,
// so the harness closes it first).
func (h *harness) sqliteData(ctx context.Context) (dir string, ds *dataset, err error) {
	dir = filepath.Join(h.o.cache, "sqlite")
	marker := filepath.Join(dir, "dataset")
	have, _ := os.ReadFile(marker)
	fresh := h.o.reload || string(have) != datasetKey
	if fresh {
		if err := os.RemoveAll(dir); err != nil {
			return "", nil, err
		}
	}
	db, err := database.Open(ctx, database.Config{DataDir: dir})
	if err != nil {
		return "", nil, err
	}
	defer db.Close()
	if ds, err = h.data(ctx, db, fresh); err != nil {
		return "", nil, err
	}
	if fresh {
		if _, err := db.SQL.ExecContext(ctx, `ANALYZE`); err != nil {
			return "", nil, err
		}
		if err := os.WriteFile(marker, []byte(datasetKey), 0o644); err != nil {
			return "", nil, err
		}
	}
	return dir, ds, nil
}

// data loads the data set into db when fresh, and signs its owner in.
func (h *harness) data(ctx context.Context, db *database.DB, fresh bool) (*dataset, error) {
	tenancy.Guard(db.Client)
	crm.Register(db.Client)
	authn := auth.New(db.Client, auth.Options{BcryptCost: 4})
	if fresh {
		start := time.Now()
		if err := load(ctx, db.Client, authn); err != nil {
			return nil, fmt.Errorf("loading the data set: %w", err)
		}
		fmt.Fprintf(os.Stderr, "data set loaded in %v\n", time.Since(start).Round(time.Second))
	}
	owner, err := db.Client.User.Query().Where(user.Email(ownerEmail)).Only(viewer.SystemContext(ctx, ""))
	if err != nil {
		return nil, fmt.Errorf("the data set's owner: %w", err)
	}
	s, err := authn.IssueSession(ctx, owner)
	if err != nil {
		return nil, err
	}
	return &dataset{orgID: owner.OrganizationID, token: s.Token}, nil
}

// load writes the data set with dakenh's ent client, hooks and privacy
// rules, as the server would write the same rows, in bulk.
func load(ctx context.Context, client *ent.Client, authn *auth.Service) error {
	s, err := account.New(client, authn, true).SignUp(ctx, account.SignUpInput{
		OrganizationName: "Hoa Lan (benchmark)", Name: "Chị Lan", Email: ownerEmail, Password: "mat-khau-benchmark",
	})
	if err != nil {
		return err
	}
	owner := s.User
	sys := viewer.SystemContext(ctx, owner.OrganizationID)
	hash, err := authn.HashPassword("mat-khau-benchmark")
	if err != nil {
		return err
	}
	staff := []gid.ID{owner.ID}
	for i := range agents {
		u, err := client.User.Create().SetName(fmt.Sprintf("Nhân viên %d", i+1)).
			SetEmail(fmt.Sprintf("agent%d@bench.dakenh.vn", i+1)).SetPasswordHash(hash).
			SetRole(viewer.RoleAgent).Save(sys)
		if err != nil {
			return err
		}
		staff = append(staff, u.ID)
	}
	var channels []*ent.Channel
	for i, kind := range []channel.Kind{channel.KindZALO_OA, channel.KindZALO_OA, channel.KindFACEBOOK_PAGE, channel.KindFACEBOOK_PAGE} {
		ch, err := client.Channel.Create().SetKind(kind).SetExternalID(fmt.Sprintf("bench-%d", i)).
			SetName(fmt.Sprintf("Hoa Lan %s %d", kind, i+1)).SetChatPermission(channel.ChatPermissionSHARED).
			SetConnectedByID(owner.ID).SetLastConnectedAt(time.Now()).Save(sys)
		if err != nil {
			return err
		}
		channels = append(channels, ch)
	}

	const batch = 1000
	base := time.Now().Add(-30 * 24 * time.Hour)
	for from := 0; from < customers; from += batch {
		n := min(batch, customers-from)
		cs := make([]*ent.CustomerCreate, n)
		for k := range n {
			i := from + k
			name := familyNames[i%16] + " " + middleNames[i/16%8] + " " + givenNames[i/128%24]
			cs[k] = client.Customer.Create().SetName(name).SetPhone(fmt.Sprintf("+8490%07d", i)).
				SetEmail(fmt.Sprintf("khach%d@example.vn", i)).SetSourceChannelID(channels[i%len(channels)].ID)
		}
		custs, err := client.Customer.CreateBulk(cs...).Save(sys)
		if err != nil {
			return fmt.Errorf("customers: %w", err)
		}
		ids := make([]*ent.IdentityCreate, n)
		convs := make([]*ent.ConversationCreate, n)
		for k, c := range custs {
			i := from + k
			ch := channels[i%len(channels)]
			ids[k] = client.Identity.Create().SetChannelID(ch.ID).SetCustomerID(c.ID).
				SetExternalID(fmt.Sprintf("bench-user-%d", i)).SetDisplayName(c.Name).SetProfileFetchedAt(base)
			start := convStart(base, i)
			convs[k] = client.Conversation.Create().SetChannelID(ch.ID).SetCustomerID(c.ID).
				SetCreatedAt(start).SetLastMessageAt(msgAt(start, perConversation-1)).
				SetLastInboundAt(msgAt(start, perConversation-2))
			if i%4 == 0 {
				convs[k].SetUnreadCount(1)
			}
			if i%3 != 2 { // two in three are assigned
				convs[k].SetAssigneeID(staff[i%len(staff)])
			}
		}
		if err := client.Identity.CreateBulk(ids...).Exec(sys); err != nil {
			return fmt.Errorf("identities: %w", err)
		}
		cv, err := client.Conversation.CreateBulk(convs...).Save(sys)
		if err != nil {
			return fmt.Errorf("conversations: %w", err)
		}
		if err := loadMessages(sys, client, cv, from, staff); err != nil {
			return err
		}
		if (from+n)%5000 == 0 {
			fmt.Fprintf(os.Stderr, "  %d conversations, %d messages\n", from+n, (from+n)*perConversation)
		}
	}
	// What storing each message keeps on its conversation, set at once.
	return inbox.BackfillLastMessages(ctx, client)
}

// convStart spreads the conversations' first messages over the month.
func convStart(base time.Time, i int) time.Time {
	return base.Add(time.Duration(i) * 2 * time.Minute)
}

// msgAt is when the j-th message of a conversation that started at start
// was sent.
func msgAt(start time.Time, j int) time.Time {
	return start.Add(time.Duration(j) * 37 * time.Second)
}

// loadMessages writes the messages of a batch of conversations and what a
// message's arrival keeps on its conversation.
func loadMessages(ctx context.Context, client *ent.Client, convs []*ent.Conversation, from int, staff []gid.ID) error {
	ms := make([]*ent.MessageCreate, 0, len(convs)*perConversation)
	for k, c := range convs {
		i := from + k
		for j := range perConversation {
			at := msgAt(c.CreatedAt, j)
			m := client.Message.Create().SetConversationID(c.ID).SetChannelID(c.ChannelID).
				SetText(texts[j%len(texts)]).SetCreatedAt(at).SetSentAt(at)
			if j%2 == 0 {
				m.SetDirection(message.DirectionINBOUND).SetSenderType(message.SenderTypeCUSTOMER).
					SetStatus(message.StatusRECEIVED).SetProviderMessageID(fmt.Sprintf("bench-msg-%d-%d", i, j))
			} else {
				sender := staff[i%len(staff)]
				if c.AssigneeID != nil {
					sender = *c.AssigneeID
				}
				m.SetDirection(message.DirectionOUTBOUND).SetSenderType(message.SenderTypeUSER).
					SetSenderUserID(sender).SetStatus(message.StatusSEEN).SetProviderMessageID(fmt.Sprintf("bench-msg-%d-%d", i, j))
			}
			ms = append(ms, m)
		}
	}
	// PostgreSQL takes at most 65,535 parameters per statement.
	for len(ms) > 0 {
		n := min(len(ms), 2000)
		if err := client.Message.CreateBulk(ms[:n]...).Exec(ctx); err != nil {
			return fmt.Errorf("messages: %w", err)
		}
		ms = ms[n:]
	}
	return nil
}
