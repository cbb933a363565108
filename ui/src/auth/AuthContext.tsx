/** Who is signed in: the session token in local storage and `GET /auth/me`. */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, tokenStore, UNAUTHORIZED_EVENT, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";
import { signWithPasskey } from "../lib/webauthn";

type Me = Schemas["Me"];
type LoginResponse = Schemas["LoginResponse"];

/** What signing in asks next: nothing (signed in) or a second factor for this pending token. */
export type LoginOutcome = { signedIn: true } | { signedIn: false; pendingToken: string; methods: string[] };

interface Auth {
  me: Me | null;
  loading: boolean;
  login(email: string, password: string): Promise<LoginOutcome>;
  /** The second step: a code from the authenticator app, or a recovery code. */
  secondFactor(pendingToken: string, code: string): Promise<void>;
  /** The second step with one of the user's passkeys. */
  passkeySecondFactor(pendingToken: string): Promise<void>;
  /** Signing in with a passkey alone: the browser offers those it holds for this site. */
  passkeySignIn(): Promise<void>;
  /** A session token obtained elsewhere (single sign-on, an accepted invitation). */
  adopt(token: string): void;
  logout(): Promise<void>;
  /** Owners and admins may change things; viewers only look. */
  canEdit: boolean;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [token, setToken] = useState(tokenStore.get());
  const meQuery = useQuery({
    queryKey: ["me", token],
    queryFn: () => unwrap(api.GET("/api/v1/auth/me")),
    enabled: token !== null,
    retry: false,
    staleTime: 60_000,
  });

  useEffect(() => {
    const onUnauthorized = () => {
      setToken(null);
      queryClient.clear();
    };
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, [queryClient]);

  const signedIn = useCallback(
    (result: LoginResponse) => {
      tokenStore.set(result.token);
      queryClient.setQueryData(["me", result.token], result.user);
      setToken(result.token);
    },
    [queryClient],
  );

  const login = useCallback(
    async (email: string, password: string): Promise<LoginOutcome> => {
      const result = await unwrap(api.POST("/api/v1/auth/login", { body: { email, password } }));
      if ("pending_token" in result) return { signedIn: false, pendingToken: result.pending_token, methods: result.methods };
      signedIn(result);
      return { signedIn: true };
    },
    [signedIn],
  );

  const secondFactor = useCallback(
    async (pendingToken: string, code: string) => {
      signedIn(await unwrap(api.POST("/api/v1/auth/login/second-factor", { body: { pending_token: pendingToken, code } })));
    },
    [signedIn],
  );

  const passkeySecondFactor = useCallback(
    async (pendingToken: string) => {
      const body = { pending_token: pendingToken };
      const { options } = await unwrap(api.POST("/api/v1/auth/login/passkey/options", { body }));
      const credential = await signWithPasskey(options);
      signedIn(await unwrap(api.POST("/api/v1/auth/login/passkey", { body: { ...body, credential } })));
    },
    [signedIn],
  );

  const passkeySignIn = useCallback(async () => {
    const { ceremony, options } = await unwrap(api.POST("/api/v1/auth/passkey-sign-in/options"));
    const credential = await signWithPasskey(options);
    signedIn(await unwrap(api.POST("/api/v1/auth/passkey-sign-in", { body: { ceremony, credential } })));
  }, [signedIn]);

  const adopt = useCallback((newToken: string) => {
    tokenStore.set(newToken);
    setToken(newToken);
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.POST("/api/v1/auth/logout");
    } finally {
      tokenStore.clear();
      setToken(null);
      queryClient.clear();
    }
  }, [queryClient]);

  const value = useMemo<Auth>(() => {
    const me = token ? (meQuery.data ?? null) : null;
    return {
      me,
      loading: token !== null && meQuery.isPending,
      login,
      secondFactor,
      passkeySecondFactor,
      passkeySignIn,
      adopt,
      logout,
      canEdit: me !== null && me.role !== "viewer",
    };
  }, [token, meQuery.data, meQuery.isPending, login, secondFactor, passkeySecondFactor, passkeySignIn, adopt, logout]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}
