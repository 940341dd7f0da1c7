//! The mutation root: prices and budgets, the admin API's own configuration. Request records are
//! never written here.

use async_graphql::{Context, Object, Result, ID};
use chrono::NaiveDate;

use crate::db::{budgets, prices};
use crate::graphql::budget_types::{Budget, BudgetInput};
use crate::graphql::cost_types::{ModelPrice, PriceInput};
use crate::graphql::errors::{bad_user_input, internal};
use crate::graphql::query::pool;

/// Most entries one import may carry.
pub const MAX_IMPORT: usize = 10_000;

pub struct Mutation;

fn budget_id(id: &ID) -> Result<i64> {
    id.parse::<i64>().map_err(|_| bad_user_input(format!("{:?} is not a budget id", id.as_str())))
}

async fn budget_by_id(ctx: &Context<'_>, id: i64) -> Result<Budget> {
    let pool = pool(ctx);
    let row =
        budgets::one(pool, id).await.map_err(internal)?.ok_or_else(|| internal("a budget just written is gone"))?;
    let book = prices::book(pool).await.map_err(internal)?;
    Budget::load(pool, row, &book, chrono::Utc::now()).await.map_err(internal)
}

/// Validates every entry first, so that a bad one imports nothing.
pub fn validate(inputs: &[PriceInput]) -> std::result::Result<Vec<pricing::Price>, String> {
    if inputs.len() > MAX_IMPORT {
        return Err(format!("at most {MAX_IMPORT} prices per import (got {})", inputs.len()));
    }
    inputs.iter().enumerate().map(|(i, input)| input.to_price().map_err(|e| format!("price {}: {e}", i + 1))).collect()
}

#[Object]
impl Mutation {
    /// Adds a price, or replaces the one for the same model and day. Every cost shown afterwards
    /// uses it: costs are computed from the stored prices whenever they are read.
    async fn set_price(&self, ctx: &Context<'_>, price: PriceInput) -> Result<ModelPrice> {
        let parsed = price.to_price().map_err(bad_user_input)?;
        prices::upsert(pool(ctx), std::slice::from_ref(&parsed)).await.map_err(internal)?;
        let stored = prices::all(pool(ctx)).await.map_err(internal)?;
        stored
            .into_iter()
            .find(|s| s.price.model == parsed.model && s.price.effective_from == parsed.effective_from)
            .map(ModelPrice::from)
            .ok_or_else(|| internal("a price just written was not found"))
    }

    /// Removes one price entry; false when there was none.
    async fn delete_price(&self, ctx: &Context<'_>, model: String, effective_from: NaiveDate) -> Result<bool> {
        prices::delete(pool(ctx), &model, effective_from).await.map_err(internal)
    }

    /// Creates a budget. The proxies pick it up within `BUDGET_CHECK_INTERVAL_MS`.
    async fn create_budget(&self, ctx: &Context<'_>, budget: BudgetInput) -> Result<Budget> {
        let new = budget.validate().map_err(bad_user_input)?;
        let id = budgets::create(pool(ctx), &new).await.map_err(internal)?;
        budget_by_id(ctx, id).await
    }

    /// Replaces a budget's settings; what it has used so far is unchanged (it is read from the records).
    async fn update_budget(&self, ctx: &Context<'_>, id: ID, budget: BudgetInput) -> Result<Budget> {
        let id = budget_id(&id)?;
        let new = budget.validate().map_err(bad_user_input)?;
        if !budgets::update(pool(ctx), id, &new).await.map_err(internal)? {
            return Err(bad_user_input(format!("there is no budget {id}")));
        }
        budget_by_id(ctx, id).await
    }

    /// Removes a budget; its alerts stay as history. False when there was none.
    async fn delete_budget(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        budgets::delete(pool(ctx), budget_id(&id)?).await.map_err(internal)
    }

    /// Adds or replaces many prices at once (all or none), e.g. the JSON `GET /api/prices` gives.
    /// Returns how many entries were written.
    async fn import_prices(&self, ctx: &Context<'_>, prices: Vec<PriceInput>) -> Result<i32> {
        let parsed = validate(&prices).map_err(bad_user_input)?;
        prices::upsert(pool(ctx), &parsed).await.map_err(internal)?;
        Ok(parsed.len() as i32)
    }
}
