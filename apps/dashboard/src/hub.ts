// The dashboard's link to the hub: the account kept on this device and the
// typed client with refresh-and-retry and an Idempotency-Key on every write
// (shared with the customer app: @edge/shared/hub-account).
import { HubError, type HubSchemas } from "@edge/shared/hub-api";
import { type Account, type TokenPair, hubAccount } from "@edge/shared/hub-account";

export type Menu = HubSchemas["Menu"];
export type Item = HubSchemas["Item"];
export type Member = HubSchemas["Member"];
export type StoreNodes = HubSchemas["StoreNodes"];
export type PairingCodeList = HubSchemas["PairingCodeList"];
export type PairingCodeIssued = HubSchemas["PairingCodeIssued"];

const account = hubAccount("edge.dashboard.account");
export const { api, hub, currentAccount, onAccountChange, keepSession, signOut, write } = account;

export { HubError };
export type { Account, TokenPair };
