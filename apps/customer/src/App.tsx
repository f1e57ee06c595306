// The customer app: a few screens chosen by the address, so every screen has a
// link that survives a reload: `/` (find a store), `/stores/{id}` (menu and
// cart), `/stores/{id}/checkout`, `/orders` (my orders), `/orders/{id}` (one
// order, live), `/account` (details, saved notes, favourites).
import { useEffect, useState, useSyncExternalStore } from "react";
import { currentAccount, onAccountChange, signOut } from "./hub";
import { AccountPage } from "./Account";
import { Checkout } from "./Checkout";
import { OFFLINE_WORDS, useOnline } from "./online";
import { MyOrders, OrderPage } from "./Orders";
import { StoreList } from "./StoreList";
import { StorePage } from "./StorePage";

/** Goes to `path` inside the app without a page load. */
export function navigate(path: string) {
  history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
  window.scrollTo(0, 0);
}

/** A link inside the app: a real `<a href>` (keyboard, new tab) that does not reload the page. */
export function Link({ to, children, className }: { to: string; children: React.ReactNode; className?: string }) {
  return (
    <a
      href={to}
      className={className}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  return path;
}

export function useAccount() {
  return useSyncExternalStore(onAccountChange, currentAccount);
}

function Screen({ path }: { path: string }) {
  let m: RegExpExecArray | null;
  if ((m = /^\/stores\/([^/]+)\/checkout\/?$/.exec(path))) return <Checkout storeId={decodeURIComponent(m[1])} />;
  if ((m = /^\/stores\/([^/]+)\/?$/.exec(path))) return <StorePage storeId={decodeURIComponent(m[1])} />;
  if ((m = /^\/orders\/([^/]+)\/?$/.exec(path))) return <OrderPage orderId={decodeURIComponent(m[1])} />;
  if (/^\/orders\/?$/.test(path)) return <MyOrders />;
  if (/^\/account\/?$/.test(path)) return <AccountPage />;
  if (path === "/" || path === "") return <StoreList />;
  return (
    <main className="page">
      <h1>Page not found</h1>
      <p>
        <Link to="/">Find a store</Link>
      </p>
    </main>
  );
}

export function App() {
  const path = usePath();
  const account = useAccount();
  const online = useOnline();
  return (
    <>
      <header className="top">
        <div className="topbar">
          <Link to="/" className="brand">
            Order online
          </Link>
          <nav aria-label="Account">
            {account ? (
              <>
                <Link to="/orders">My orders</Link>
                <Link to="/account">Account</Link>
                <button type="button" className="link" onClick={() => void signOut()}>
                  Sign out
                </button>
              </>
            ) : null}
          </nav>
        </div>
        {/* Always in the page, so screen readers announce the words when they appear. */}
        <div role="status">
          {!online && (
            <p className="offline-banner" data-testid="offline-banner">
              {OFFLINE_WORDS}
            </p>
          )}
        </div>
      </header>
      <Screen path={path} />
    </>
  );
}
