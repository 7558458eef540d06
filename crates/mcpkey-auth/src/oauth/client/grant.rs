//! Obtaining tokens from scratch: discovery, scopes, client identity and
//! the grant (authorization code with PKCE, client credentials,
//! enterprise-managed).

use super::*;

impl OAuth {
    /// The scopes for a new authorization: configured ones; else the union
    /// of those requested before and the challenge's (step-up); else the
    /// resource's `scopes_supported`; plus `offline_access` when the server
    /// offers it and a refresh token can be used.
    fn scopes(
        &self,
        challenge: Option<&BearerChallenge>,
        prm_scopes: Option<&[String]>,
        meta: &ServerMetadata,
    ) -> Option<String> {
        if let Some(s) = &self.config.scope {
            return Some(s.clone());
        }
        let mut st = self.state();
        let challenged: Vec<String> = challenge
            .and_then(|c| c.scope.as_deref())
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        if !challenged.is_empty() {
            st.requested_scopes.extend(challenged);
        } else if st.requested_scopes.is_empty()
            && let Some(p) = prm_scopes
        {
            st.requested_scopes.extend(p.iter().cloned());
        }
        let mut scopes: Vec<String> = st.requested_scopes.iter().cloned().collect();
        let offline = matches!(self.config.grant, Grant::AuthorizationCode)
            && meta
                .scopes_supported
                .as_ref()
                .is_some_and(|s| s.iter().any(|x| x == "offline_access"));
        if offline && !scopes.iter().any(|s| s == "offline_access") {
            scopes.push("offline_access".into());
        }
        (!scopes.is_empty()).then(|| scopes.join(" "))
    }

    /// Obtains new tokens from scratch (discovery, identity, grant).
    pub(super) async fn obtain(
        &self,
        challenge: Option<&BearerChallenge>,
    ) -> Result<(), AuthError> {
        let allow_http = self.allow_http();
        let prm = if self.config.metadata.is_some() {
            None
        } else {
            discovery::resource_metadata(self.http.as_ref(), &self.server, challenge, allow_http)
                .await?
        };
        let resource = prm
            .as_ref()
            .map(|p| p.resource.clone())
            .unwrap_or_else(|| canonical_resource(&self.server));
        let (meta, source) = if let Some(m) = &self.config.metadata {
            (m.clone(), MetadataSource::Configured)
        } else if let Some(prm) = &prm {
            let issuer = prm.authorization_servers.first().ok_or_else(|| {
                AuthError::prepare(
                    "oauth",
                    "the protected resource metadata lists no authorization server",
                )
            })?;
            (
                discovery::server_metadata(self.http.as_ref(), issuer, allow_http).await?,
                MetadataSource::Discovered,
            )
        } else {
            discovery::legacy_server_metadata(self.http.as_ref(), &self.server, allow_http).await?
        };
        let scope = self.scopes(
            challenge,
            prm.as_ref().and_then(|p| p.scopes_supported.as_deref()),
            &meta,
        );
        let token_endpoint = self.token_endpoint(&meta)?;

        let (client_id, client_auth, tokens) = match self.config.grant.clone() {
            Grant::ClientCredentials => {
                let client_id = self.config.client_id.clone().ok_or_else(|| {
                    AuthError::prepare(
                        "oauth",
                        "client_credentials needs a pre-registered \"client_id\"",
                    )
                })?;
                let client_auth = match &self.config.private_key {
                    Some((key, alg)) => ClientAuth::PrivateKeyJwt {
                        key: key.clone(),
                        alg: *alg,
                    },
                    None => choose_client_auth(
                        self.config.client_secret.as_ref(),
                        None,
                        meta.token_endpoint_auth_methods_supported.as_deref(),
                    ),
                };
                let mut params = vec![
                    ("grant_type", "client_credentials"),
                    ("resource", resource.as_str()),
                ];
                if let Some(s) = &scope {
                    params.push(("scope", s));
                }
                let tokens = token::request(
                    self.http.as_ref(),
                    &token_endpoint,
                    &client_id,
                    &client_auth,
                    &meta.issuer,
                    &params,
                )
                .await
                .map_err(|e| e.into_error("client_credentials grant"))?;
                (client_id, client_auth, tokens)
            }
            Grant::EnterpriseManaged(em) => {
                let client_id = self.config.client_id.clone().ok_or_else(|| {
                    AuthError::prepare(
                        "oauth",
                        "enterprise-managed authorization needs a pre-registered \"client_id\"",
                    )
                })?;
                let client_auth = choose_client_auth(
                    self.config.client_secret.as_ref(),
                    None,
                    meta.token_endpoint_auth_methods_supported.as_deref(),
                );
                let id_jag = self
                    .exchange_id_token(&em, &meta.issuer, &resource, scope.as_deref())
                    .await?;
                let mut params = vec![
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", id_jag.expose_secret()),
                ];
                if let Some(s) = &scope {
                    params.push(("scope", s));
                }
                let tokens = token::request(
                    self.http.as_ref(),
                    &token_endpoint,
                    &client_id,
                    &client_auth,
                    &meta.issuer,
                    &params,
                )
                .await
                .map_err(|e| e.into_error("JWT bearer grant"))?;
                (client_id, client_auth, tokens)
            }
            Grant::AuthorizationCode => {
                self.authorization_code(&meta, source, &resource, scope.as_deref(), &token_endpoint)
                    .await?
            }
        };
        let mut record = TokenRecord::new(&meta.issuer, &client_id, tokens);
        record.resource_indicator = Some(resource);
        self.store
            .put_tokens(&self.resource_key, record.clone())
            .await?;
        self.state().current = Some(Current {
            record,
            renew: Some(Renewal {
                token_endpoint,
                client_auth,
                issuer: meta.issuer.clone(),
            }),
        });
        Ok(())
    }

    async fn authorization_code(
        &self,
        meta: &ServerMetadata,
        source: MetadataSource,
        resource: &str,
        scope: Option<&str>,
        token_endpoint: &Url,
    ) -> Result<(String, ClientAuth, TokenSet), AuthError> {
        let Some(ui) = &self.ui else {
            let name = if self.server_name.is_empty() {
                "<server>"
            } else {
                &self.server_name
            };
            return Err(AuthError::Rejected {
                scheme: "oauth".into(),
                reason: if source == MetadataSource::LegacyEndpoints {
                    format!(
                        "the server requires a token but publishes no OAuth metadata; set its \"auth\" in the config, \
                         or try an OAuth login (mcpkey login {name})"
                    )
                } else {
                    format!(
                        "this server needs an OAuth login at {}; log in first (mcpkey login {name}), \
                         or set its \"auth\" in the config",
                        meta.issuer
                    )
                },
            });
        };
        let pkce_ok = meta
            .code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| m.iter().any(|x| x == "S256"));
        if !pkce_ok && source != MetadataSource::LegacyEndpoints {
            return Err(AuthError::Rejected {
                scheme: "oauth".into(),
                reason: format!(
                    "the authorization server {} does not advertise PKCE with S256 (code_challenge_methods_supported); refusing to authorize",
                    meta.issuer
                ),
            });
        }
        let authorization_endpoint = meta.authorization_endpoint.as_deref().ok_or_else(|| {
            AuthError::prepare(
                "oauth",
                "the authorization server metadata has no authorization_endpoint",
            )
        })?;
        let mut url = check_url(
            "authorization endpoint",
            authorization_endpoint,
            self.allow_http(),
        )?;
        let redirect_uri = ui.redirect_uri();
        let config_identity = ClientIdentity {
            client_id: self.config.client_id.clone(),
            client_secret: self.config.client_secret.clone(),
            client_metadata_url: self.config.client_metadata_url.clone(),
            client_name: self.config.client_name.clone(),
        };
        let (registration, _) = identity(
            self.http.as_ref(),
            self.store.as_ref(),
            meta,
            &config_identity,
            &redirect_uri,
            scope,
            true,
            self.allow_http(),
        )
        .await?;
        let pkce = Pkce::new()?;
        let state = random_token(32)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &registration.client_id)
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", &state)
                .append_pair("resource", resource);
            if let Some(s) = scope {
                q.append_pair("scope", s);
            }
        }
        let redirect = ui
            .authorize(AuthorizationPrompt {
                url: &url,
                state: &state,
                redirect_uri: &redirect_uri,
                server: &self.server_name,
            })
            .await?;
        let code = validate_redirect(&redirect, &state, meta)?;
        let client_auth = choose_client_auth(
            registration.client_secret.as_ref(),
            registration.token_endpoint_auth_method.as_deref(),
            meta.token_endpoint_auth_methods_supported.as_deref(),
        );
        let params = [
            ("grant_type", "authorization_code"),
            ("code", code.expose_secret()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", pkce.verifier.expose_secret()),
            ("resource", resource),
        ];
        let tokens = token::request(
            self.http.as_ref(),
            token_endpoint,
            &registration.client_id,
            &client_auth,
            &meta.issuer,
            &params,
        )
        .await
        .map_err(|e| e.into_error("authorization code"))?;
        Ok((registration.client_id, client_auth, tokens))
    }

    /// RFC 8693 token exchange at the identity provider: ID token → ID-JAG.
    async fn exchange_id_token(
        &self,
        em: &EnterpriseManaged,
        audience: &str,
        resource: &str,
        scope: Option<&str>,
    ) -> Result<SecretString, AuthError> {
        let url = check_url(
            "identity provider token endpoint",
            &em.idp_token_endpoint,
            self.allow_http(),
        )?;
        let body = exchange_form(em, audience, resource, scope);
        let req = http::Request::builder()
            .method(http::Method::POST)
            .uri(url.as_str())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(Bytes::from(body.expose_secret().to_owned()))
            .map_err(|_| AuthError::prepare("oauth", "cannot build the token exchange request"))?;
        let resp = self.http.send(req).await?;
        if !resp.status().is_success() {
            return Err(AuthError::Rejected {
                scheme: "oauth".into(),
                reason: format!(
                    "the identity provider refused the token exchange (HTTP {})",
                    resp.status().as_u16()
                ),
            });
        }
        let v: serde_json::Value = serde_json::from_slice(resp.body()).map_err(|_| {
            AuthError::prepare("oauth", "the identity provider's answer is not JSON")
        })?;
        v.get("access_token")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(|t| SecretString::from(t.to_owned()))
            .ok_or_else(|| AuthError::prepare("oauth", "the identity provider returned no ID-JAG"))
    }

    /// Runs the login now (the CLI's `mcpkey login`): forgets the current
    /// token and authorizes from scratch.
    pub async fn login(&self, challenge: Option<&BearerChallenge>) -> Result<(), AuthError> {
        let _flight = self.flight.lock().await;
        self.obtain(challenge).await
    }
}

/// The RFC 8693 token exchange form body.
fn exchange_form(
    em: &EnterpriseManaged,
    audience: &str,
    resource: &str,
    scope: Option<&str>,
) -> SecretString {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair(
        "grant_type",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    )
    .append_pair(
        "requested_token_type",
        "urn:ietf:params:oauth:token-type:id-jag",
    )
    .append_pair("subject_token", em.id_token.expose_secret())
    .append_pair(
        "subject_token_type",
        "urn:ietf:params:oauth:token-type:id_token",
    )
    .append_pair("audience", audience)
    .append_pair("resource", resource);
    if let Some(s) = scope {
        form.append_pair("scope", s);
    }
    if let Some(id) = &em.idp_client_id {
        form.append_pair("client_id", id);
    }
    if let Some(secret) = &em.idp_client_secret {
        form.append_pair("client_secret", secret.expose_secret());
    }
    SecretString::from(form.finish())
}
