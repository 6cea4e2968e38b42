-- reverse: create index "znscampaignrecipient_organization_id" to table: "zns_campaign_recipients"
DROP INDEX "znscampaignrecipient_organization_id";
-- reverse: create index "znscampaignrecipient_customer_id" to table: "zns_campaign_recipients"
DROP INDEX "znscampaignrecipient_customer_id";
-- reverse: create index "znscampaignrecipient_campaign_id_tracking_id" to table: "zns_campaign_recipients"
DROP INDEX "znscampaignrecipient_campaign_id_tracking_id";
-- reverse: create index "znscampaignrecipient_campaign_id_status_id" to table: "zns_campaign_recipients"
DROP INDEX "znscampaignrecipient_campaign_id_status_id";
-- reverse: create "zns_campaign_recipients" table
DROP TABLE "zns_campaign_recipients";
-- reverse: modify "zns_messages" table
ALTER TABLE "zns_messages" DROP CONSTRAINT "zns_messages_zns_campaigns_campaign", DROP COLUMN "campaign_id";
-- reverse: create index "znscampaign_organization_id_created_at" to table: "zns_campaigns"
DROP INDEX "znscampaign_organization_id_created_at";
-- reverse: create index "znscampaign_organization_id" to table: "zns_campaigns"
DROP INDEX "znscampaign_organization_id";
-- reverse: create "zns_campaigns" table
DROP TABLE "zns_campaigns";
